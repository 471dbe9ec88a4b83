//! A strict reader of the Prometheus text format 0.0.4 for tests: every
//! sample must follow the `# HELP` and `# TYPE` of its family, names and
//! label names must be valid, label values properly quoted and escaped,
//! values numbers; no sample may repeat. Panics on anything else, so a
//! malformed exposition fails the test that reads it.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The labels of one sample.
pub type Labels = BTreeMap<String, String>;

/// Samples by name, each with its labels.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: HashMap<String, Vec<(Labels, f64)>>,
    pub types: HashMap<String, String>,
}

impl Exposition {
    /// The value of the sample `name` whose labels include `labels`,
    /// summed over the samples that match (0 when none does).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .get(name)
            .into_iter()
            .flatten()
            .filter(|(l, _)| {
                labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// The family a sample name belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram")
        {
            return Some(base);
        }
    }
    None
}

fn parse_labels(s: &str, line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("label without =\": {line}"));
        assert!(valid_name(name), "label name {name:?}: {line}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        assert!(
            out.insert(name.to_owned(), value).is_none(),
            "duplicate label {name}: {line}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// Parses `text`; panics with the offending line on any violation.
pub fn parse(text: &str) -> Exposition {
    let mut e = Exposition::default();
    let mut helped = HashSet::new();
    let mut seen = HashSet::new();
    assert!(text.ends_with('\n'), "exposition must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            assert!(valid_name(name), "HELP name: {line}");
            assert!(helped.insert(name.to_owned()), "second HELP: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                "type: {line}"
            );
            assert!(
                e.types.insert(name.to_owned(), t.to_owned()).is_none(),
                "second TYPE: {line}"
            );
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line: {line:?}"
        );
        let (head, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value: {line}")),
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, l)) => (
                n,
                parse_labels(
                    l.strip_suffix('}')
                        .unwrap_or_else(|| panic!("labels: {line}")),
                    line,
                ),
            ),
            None => (head, BTreeMap::new()),
        };
        assert!(valid_name(name), "name: {line}");
        let family =
            family_of(name, &e.types).unwrap_or_else(|| panic!("sample without TYPE: {line}"));
        if e.types[family] == "counter" {
            assert!(value >= 0.0, "negative counter: {line}");
        }
        assert!(
            seen.insert(format!("{name}{labels:?}")),
            "duplicate sample: {line}"
        );
        e.samples
            .entry(name.to_owned())
            .or_default()
            .push((labels, value));
    }
    e
}
