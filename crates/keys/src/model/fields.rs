//! Which fields of a request an entity did not keep.
//!
//! Why: serde ignores JSON keys a struct does not name, so a field the
//! caller meant to set (a typo, a v3 feature castguard lacks, a vendor
//! option of a later issue) would vanish without a word, and an import
//! would quietly publish something else than the export described. The
//! API compares what it was sent with what it parsed, written back as JSON
//! ([`dropped`]): a key that is in the request but not in the entity was not
//! kept. Callers then tell the v3 read-only facts they ignore on purpose
//! (`created`, a locator key's `tracks`, ...: [`matches`] against their
//! patterns) from unknown fields, which they refuse by name.

use serde_json::Value;

/// The JSON paths (`options[0].restriction.foo`) of the keys of `input`
/// that are not in `kept`, the parsed entity serialised back.
///
/// A key whose value is empty (`null`, `[]`, `{}`, `""`, `false`, `0`) is
/// not reported: an entity leaves out what it holds as a default, so such a
/// key says nothing that was lost. Values that are present on both sides
/// but differ (a normalised form) are not reported either; objects are
/// compared key by key, arrays of equal length item by item.
pub fn dropped(input: &Value, kept: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(input, kept, &mut String::new(), &mut out);
    out
}

fn walk(input: &Value, kept: &Value, path: &mut String, out: &mut Vec<String>) {
    match (input, kept) {
        (Value::Object(i), Value::Object(k)) => {
            for (key, value) in i {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match k.get(key) {
                    Some(kv) => walk(value, kv, path, out),
                    None if is_empty(value) => {}
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(i), Value::Array(k)) if i.len() == k.len() => {
            for (n, (iv, kv)) in i.iter().zip(k).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{n}]"));
                walk(iv, kv, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Whether `path` (`contentKeys[2].tracks`) is `pattern` or inside it,
/// where `[]` in the pattern stands for any index (`contentKeys[].tracks`
/// covers `contentKeys[0].tracks[1].id` too).
pub fn matches(pattern: &str, path: &str) -> bool {
    let mut normalised = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                normalised.push('[');
            }
            ']' => {
                in_index = false;
                normalised.push(']');
            }
            _ if in_index => {}
            c => normalised.push(c),
        }
    }
    match normalised.strip_prefix(pattern) {
        Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

/// `f` on the properties object of a v3 resource body: the envelope's
/// `properties` when there is one, else the body itself (both shapes are
/// accepted on input, by the API and in an account export).
pub fn in_properties<R>(
    body: &mut serde_json::Map<String, Value>,
    f: impl FnOnce(&mut serde_json::Map<String, Value>) -> R,
) -> R {
    match body.get_mut("properties") {
        Some(Value::Object(p)) => f(p),
        _ => f(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_the_entity_lacks_are_named_by_path() {
        let input = json!({"name": "p", "tags": {"a": 1}, "options": [
            {"name": "o", "restriction": {"issuer": "i", "typo": "x"}},
            {"name": "p", "colour": 3}]});
        let kept = json!({"name": "p", "options": [
            {"name": "o", "restriction": {"issuer": "i"}}, {"name": "p"}]});
        assert_eq!(
            dropped(&input, &kept),
            vec!["options[0].restriction.typo", "options[1].colour", "tags"]
        );
    }

    #[test]
    fn empty_or_normalised_values_are_not_dropped() {
        let input = json!({"a": null, "b": [], "c": {}, "d": false, "e": "", "f": 0,
            "g": 3600.0, "h": [1, 2]});
        let kept = json!({"g": 3600, "h": [1]});
        assert!(dropped(&input, &kept).is_empty());
        // A non-empty value is reported even where the entity has defaults.
        assert_eq!(dropped(&json!({"d": true}), &json!({})), vec!["d"]);
    }

    #[test]
    fn patterns_take_any_index() {
        assert!(matches("contentKeys[].tracks", "contentKeys[12].tracks"));
        assert!(matches("created", "created"));
        assert!(!matches("contentKeys[].tracks", "contentKeys[0].value"));
        assert!(!matches("created", "options[0].created"));
        assert!(matches("storage", "storage.tracks[0].x"));
        assert!(!matches("storage", "storageAccountName"));
    }
}
