//! Tables for people, JSON for scripts.

use serde_json::Value;

#[derive(Clone, Copy)]
pub enum Kind {
    Asset,
    Key,
    Policy,
    StreamingPolicy,
    Locator,
    LiveEvent,
    LiveOutput,
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn headers(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Asset => &["NAME", "TRACKS", "DESCRIPTION", "CREATED"],
        Kind::Key => &["NAME", "KEY ID", "TYPE", "POLICY", "LABEL"],
        Kind::Policy => &["NAME", "OPTIONS", "CREATED"],
        Kind::StreamingPolicy => &["NAME", "SCHEMES", "DEFAULT POLICY"],
        Kind::Locator => &["NAME", "ASSET", "STREAMING POLICY", "LOCATOR ID", "KEYS"],
        Kind::LiveEvent => &["NAME", "STATE", "PROTOCOL", "INGEST URL"],
        Kind::LiveOutput => &[
            "NAME",
            "LIVE EVENT",
            "ASSET",
            "ARCHIVE WINDOW",
            "REWIND WINDOW",
        ],
    }
}

fn odata_short(v: &Value) -> String {
    let t = v["@odata.type"].as_str().unwrap_or("?");
    t.trim_start_matches("#Microsoft.Media.ContentKeyPolicy")
        .trim_end_matches("Configuration")
        .trim_end_matches("Restriction")
        .to_string()
}

fn row(kind: Kind, v: &Value) -> Vec<String> {
    match kind {
        Kind::Asset => vec![
            s(&v["name"]),
            v["storage"]["tracks"]
                .as_array()
                .map_or("-".into(), |t| t.len().to_string()),
            s(&v["description"]),
            s(&v["created"]),
        ],
        Kind::Key => vec![
            s(&v["name"]),
            s(&v["keyId"]),
            s(&v["type"]),
            s(&v["policyName"]),
            s(&v["label"]),
        ],
        Kind::Policy => vec![
            s(&v["name"]),
            v["options"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(|o| {
                            format!(
                                "{}/{}",
                                odata_short(&o["configuration"]),
                                odata_short(&o["restriction"])
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
            s(&v["created"]),
        ],
        Kind::StreamingPolicy => vec![
            s(&v["name"]),
            [
                "noEncryption",
                "envelopeEncryption",
                "commonEncryptionCenc",
                "commonEncryptionCbcs",
            ]
            .iter()
            .filter(|k| v.get(**k).is_some())
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(","),
            s(&v["defaultContentKeyPolicyName"]),
        ],
        Kind::Locator => vec![
            s(&v["name"]),
            s(&v["assetName"]),
            s(&v["streamingPolicyName"]),
            s(&v["streamingLocatorId"]),
            v["contentKeys"].as_array().map_or(0, Vec::len).to_string(),
        ],
        Kind::LiveEvent => vec![
            s(&v["name"]),
            s(&v["resourceState"]),
            s(&v["input"]["streamingProtocol"]),
            s(&v["input"]["endpoints"][0]["url"]),
        ],
        Kind::LiveOutput => vec![
            s(&v["name"]),
            s(&v["liveEventName"]),
            s(&v["assetName"]),
            s(&v["archiveWindowLength"]),
            s(&v["rewindWindowLength"]),
        ],
    }
}

pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub fn one(json: bool, kind: Kind, v: &Value) {
    if json {
        print_json(v)
    } else {
        table(headers(kind), &[row(kind, v)])
    }
}

pub fn many(json: bool, kind: Kind, items: &[Value]) {
    if json {
        print_json(&Value::Array(items.to_vec()))
    } else {
        table(
            headers(kind),
            &items.iter().map(|v| row(kind, v)).collect::<Vec<_>>(),
        )
    }
}

pub fn paths(json: bool, base: &str, r: &Value) {
    if json {
        return print_json(r);
    }
    let rows: Vec<Vec<String>> = r["streamingPaths"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            p["paths"].as_array().into_iter().flatten().map(move |u| {
                vec![
                    s(&p["streamingProtocol"]),
                    s(&p["encryptionScheme"]),
                    format!("{base}{}", u.as_str().unwrap_or("")),
                ]
            })
        })
        .collect();
    table(&["PROTOCOL", "ENCRYPTION", "URL"], &rows);
}

pub fn locator_keys(json: bool, r: &Value) {
    if json {
        return print_json(r);
    }
    let rows: Vec<Vec<String>> = r["contentKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            vec![
                s(&k["id"]),
                s(&k["type"]),
                s(&k["keyName"]),
                s(&k["policyName"]),
                s(&k["value"]),
            ]
        })
        .collect();
    table(&["KEY ID", "TYPE", "NAME", "POLICY", "VALUE"], &rows);
}
