//! JSON request bodies parsed with every object key unique.
//!
//! serde_json keeps the last of two equal keys (`{"issuer":"a","issuer":"b"}`
//! is `{"issuer":"b"}`), and has no option to refuse them. RFC 8259 §4 says
//! only that names "SHOULD be unique" and that receivers then behave
//! unpredictably: one party reading the first and another the last is the
//! kind of ambiguity a policy (which issuer is trusted?) must never have.
//! [`parse_unique`] builds the same [`Value`] through a visitor that fails
//! on the first repeated key and reports its JSON path (`options[0].restriction.issuer`).

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// Why a body is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// A key appears twice in one object; `path` names it.
    #[error("duplicate key '{key}'")]
    DuplicateKey { path: String, key: String },
    /// Not JSON at all.
    #[error("not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
}

/// Parses `bytes` as one JSON value, refusing duplicate object keys at any
/// depth. Nesting depth is bounded by serde_json's own recursion limit.
pub fn parse_unique(bytes: &[u8]) -> Result<Value, JsonError> {
    let dup = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Unique { path: String::new(), dup: &dup }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match (parsed, dup.into_inner()) {
        (_, Some(e)) => Err(e),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(JsonError::Syntax { line: e.line(), column: e.column() }),
    }
}

/// A value at `path`; the first duplicate found is left in `dup`.
struct Unique<'a> {
    path: String,
    dup: &'a RefCell<Option<JsonError>>,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Unique {
            path: format!("{}[{}]", self.path, out.len()),
            dup: self.dup,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if out.contains_key(&key) {
                *self.dup.borrow_mut() = Some(JsonError::DuplicateKey { path, key });
                return Err(de::Error::custom("duplicate key"));
            }
            let v = map.next_value_seed(Unique { path, dup: self.dup })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_values_as_serde_json_and_duplicates_named() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x",{"b":{}}],"c":{"d":18446744073709551615}}"#;
        assert_eq!(parse_unique(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        for (text, path, key) in [
            (r#"{"description":"one","description":"two"}"#, "description", "description"),
            (r#"{"o":[{},{"r":{"issuer":1,"x":2,"issuer":1}}]}"#, "o[1].r.issuer", "issuer"),
            // Escapes do not hide a duplicate: both are "a".
            (r#"{"a":1,"\u0061":2}"#, "a", "a"),
        ] {
            assert_eq!(
                parse_unique(text.as_bytes()),
                Err(JsonError::DuplicateKey { path: path.into(), key: key.into() }),
                "{text}"
            );
        }
        assert!(matches!(parse_unique(b"{\"a\":1} x"), Err(JsonError::Syntax { .. })));
        assert!(matches!(parse_unique(b"{\"a\":"), Err(JsonError::Syntax { .. })));
        assert_eq!(parse_unique(br#"[{"a":1},{"a":1}]"#).unwrap(), json!([{"a":1},{"a":1}]));
    }
}
