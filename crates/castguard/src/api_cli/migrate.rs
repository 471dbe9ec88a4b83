//! `castguard import DIR` and `castguard export DIR`: an account of the
//! retired cloud media service moved as a folder (issue 17).
//!
//! The folder holds the v3 resources as the service's REST API (or `az
//! ams ... show`) returned them, one JSON file each:
//!
//! ```text
//! DIR/contentKeyPolicies/NAME.json           the policy (GET), or its
//!                                            getPolicyPropertiesWithSecrets output
//! DIR/contentKeyPolicies/NAME.secrets.json   optional: getPolicyPropertiesWithSecrets,
//!                                            replaces the properties of NAME.json
//! DIR/streamingPolicies/NAME.json
//! DIR/streamingLocators/NAME.json
//! DIR/streamingLocators/NAME.contentKeys.json  its listContentKeys output (the key values)
//! DIR/assets/NAME.json
//! DIR/assets/NAME/                           optional: the asset's files as the encoder
//!                                            wrote them (MP4s and a .ism), ingested after
//! ```
//!
//! A file may also be a list response (`{"value": [...]}`), and a resource's
//! kind comes from its `type` when it has one, else from its folder; its
//! name from `name`, else from the file name. Resources of kinds castguard
//! does not import (transforms, jobs, streaming endpoints, filters, live
//! events) are listed as skipped.
//!
//! Why the CLI reads the folder and the server does the rest: the files are
//! on the operator's machine, and the import must be one transaction with
//! the same checks as every PUT, which only the server can give
//! (`POST /api/v1/import`). Errors name the file and the field.
//!
//! `export` writes the same layout from a castguard server (policies with
//! their secrets, locators with their key values: keep the folder private),
//! so an import followed by an export gives back every field castguard
//! keeps.

use super::{connect, seg};
use crate::Failure;
use clap::Args;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ImportArgs {
    /// The export folder.
    dir: PathBuf,
    /// Show what would be created or replaced and every field castguard
    /// would not keep; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    conn: super::Conn,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The folder to write (created; must be empty if it exists).
    dir: PathBuf,
    #[command(flatten)]
    conn: super::Conn,
}

/// The kinds castguard imports: (folder, v3 type suffix, API collection).
const KINDS: [(&str, &str); 5] = [
    ("assets", "assets"),
    ("contentKeyPolicies", "content-key-policies"),
    ("streamingPolicies", "streaming-policies"),
    ("streamingLocators", "streaming-locators"),
    ("contentKeys", "content-keys"),
];

/// v3 resource types of the service that castguard does not import.
const NOT_IMPORTED: [&str; 8] = [
    "transforms",
    "jobs",
    "streamingEndpoints",
    "liveEvents",
    "liveOutputs",
    "accountFilters",
    "assetFilters",
    "mediaservices",
];

const TYPE_PREFIX: &str = "microsoft.media/mediaservices/";

/// A resource read from the folder.
struct Resource {
    collection: &'static str,
    name: String,
    source: String,
    body: Map<String, Value>,
}

/// What the folder holds, before it is sent.
#[derive(Default)]
struct Folder {
    resources: Vec<Resource>,
    /// Locator name -> (listContentKeys entries, source file).
    locator_keys: BTreeMap<String, (Vec<Value>, String)>,
    /// Policy name -> (getPolicyPropertiesWithSecrets output, source file).
    policy_secrets: BTreeMap<String, (Map<String, Value>, String)>,
    /// Asset name -> media folder.
    media: BTreeMap<String, PathBuf>,
    skipped: Vec<String>,
}

pub fn import(args: ImportArgs) -> Result<(), Failure> {
    let folder = read(&args.dir)?;
    // Media folders are checked before anything is written.
    let mut media = Vec::new();
    for (name, dir) in &folder.media {
        let f = media::ism::read_folder(dir).map_err(Failure::input)?;
        media.push((name.clone(), f));
    }
    let skipped = folder.skipped.clone();
    let resources = assemble(folder)?;
    if resources.is_empty() && media.is_empty() {
        return Err(Failure::input(format!(
            "{}: no resources to import (see `castguard import --help` for the folder layout)",
            args.dir.display()
        )));
    }
    let c = connect(&args.conn)?;
    let q = if args.dry_run { "?dryRun=true" } else { "" };
    let answer = c
        .post_json(
            &format!("/api/v1/import{q}"),
            &json!({ "resources": resources }),
        )
        .map_err(|f| Failure::input(format!("import: {}", f.message)))?;
    if args.conn.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    } else {
        for s in &skipped {
            println!("skip {s}");
        }
        print_plan(&answer, args.dry_run);
    }
    for (name, f) in media {
        if args.dry_run {
            if !args.conn.json {
                println!(
                    "would ingest asset {name}: {} file(s), {} subtitle file(s)",
                    f.media.len(),
                    f.texts.len()
                );
            }
            continue;
        }
        let stored = super::ingest(&c, &name, &f.media, &f.texts, None)
            .map_err(|e| Failure::input(format!("asset {name}: {}", e.message)))?;
        if !args.conn.json {
            let tracks = stored["storage"]["tracks"].as_array().map_or(0, Vec::len);
            println!("ingested asset {name}: {tracks} track(s)");
        }
    }
    Ok(())
}

fn print_plan(answer: &Value, dry_run: bool) {
    let empty = Vec::new();
    for r in answer["resources"].as_array().unwrap_or(&empty) {
        let action = r["action"].as_str().unwrap_or("?");
        let verb = match (dry_run, action) {
            (_, "skip") => "skip".to_string(),
            (true, a) => format!("would {a}"),
            (false, "create") => "created".to_string(),
            (false, _) => "replaced".to_string(),
        };
        println!(
            "{verb} {}/{} ({})",
            r["collection"].as_str().unwrap_or("?"),
            r["name"].as_str().unwrap_or("?"),
            r["source"].as_str().unwrap_or("?")
        );
        for n in r["notKept"].as_array().unwrap_or(&empty) {
            let field = n["field"].as_str().unwrap_or("");
            let reason = n["reason"].as_str().unwrap_or("");
            if field.is_empty() {
                println!("  {reason}");
            } else {
                println!("  not kept: {field}: {reason}");
            }
        }
    }
}

/// Reads every `.json` file under `dir` (two levels of folders).
fn read(dir: &Path) -> Result<Folder, Failure> {
    if !dir.is_dir() {
        return Err(Failure::input(format!("{}: not a folder", dir.display())));
    }
    let mut files = Vec::new();
    let mut folder = Folder::default();
    collect(dir, dir, 0, &mut files, &mut folder)?;
    files.sort();
    for path in files {
        read_file(dir, &path, &mut folder)?;
    }
    Ok(folder)
}

fn collect(
    root: &Path,
    dir: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    folder: &mut Folder,
) -> Result<(), Failure> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Failure::input(format!("{}: {e}", dir.display())))?;
    for e in entries {
        let path = e
            .map_err(|e| Failure::input(format!("{}: {e}", dir.display())))?
            .path();
        if path.is_dir() {
            let parent = dir.file_name().and_then(|n| n.to_str());
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if depth == 1 && parent == Some("assets") {
                // An asset's media folder, as the encoder wrote it.
                seg(name)?;
                folder.media.insert(name.to_string(), path);
            } else if depth < 2 {
                collect(root, &path, depth + 1, files, folder)?;
            }
        } else if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("json"))
        {
            files.push(path);
        }
    }
    let _ = root;
    Ok(())
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The file's name without `.json` and the given suffix.
fn stem_without<'a>(path: &'a Path, suffix: &str) -> Option<&'a str> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    stem.strip_suffix(suffix)
}

fn read_file(root: &Path, path: &Path, folder: &mut Folder) -> Result<(), Failure> {
    let source = shown(root, path);
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::input(format!("{source}: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::input(format!("{source}: not JSON: {e}")))?;
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");

    // A locator's listContentKeys output: {"contentKeys": [...]} or a bare array.
    if let Some(locator) =
        stem_without(path, ".contentKeys").or_else(|| stem_without(path, ".listContentKeys"))
    {
        let keys = match &value {
            Value::Array(a) => a.clone(),
            Value::Object(m) => match m.get("contentKeys") {
                Some(Value::Array(a)) => a.clone(),
                _ => {
                    return Err(Failure::input(format!(
                        "{source}: contentKeys: a listContentKeys output needs a contentKeys array"
                    )));
                }
            },
            _ => {
                return Err(Failure::input(format!(
                    "{source}: not a listContentKeys output"
                )));
            }
        };
        folder
            .locator_keys
            .insert(locator.to_string(), (keys, source));
        return Ok(());
    }
    // A policy's getPolicyPropertiesWithSecrets output.
    if let Some(policy) = stem_without(path, ".secrets") {
        let Value::Object(mut m) = value else {
            return Err(Failure::input(format!("{source}: not a JSON object")));
        };
        if let Some(Value::Object(p)) = m.remove("properties") {
            m = p;
        }
        folder
            .policy_secrets
            .insert(policy.to_string(), (m, source));
        return Ok(());
    }
    let stem = stem_without(path, "").unwrap_or("");
    match value {
        Value::Object(mut m) if matches!(m.get("value"), Some(Value::Array(_))) => {
            let Some(Value::Array(items)) = m.remove("value") else {
                return Ok(());
            };
            for (i, item) in items.into_iter().enumerate() {
                let Value::Object(item) = item else {
                    return Err(Failure::input(format!(
                        "{source}: value[{i}]: not a JSON object"
                    )));
                };
                add(folder, format!("{source}: value[{i}]"), parent, None, item)?;
            }
        }
        Value::Object(m) => add(folder, source, parent, Some(stem), m)?,
        _ => {
            return Err(Failure::input(format!(
                "{source}: a resource must be a JSON object"
            )));
        }
    }
    Ok(())
}

/// Adds one resource: its kind from `type` or the folder, its name from
/// `name` or the file.
fn add(
    folder: &mut Folder,
    source: String,
    parent: &str,
    stem: Option<&str>,
    mut body: Map<String, Value>,
) -> Result<(), Failure> {
    let kind = match body.get("type") {
        Some(Value::String(t)) => {
            let lower = t.to_ascii_lowercase();
            let Some(kind) = lower.strip_prefix(TYPE_PREFIX) else {
                return Err(Failure::input(format!(
                    "{source}: type: '{t}' is not a media services resource type"
                )));
            };
            if let Some(k) = NOT_IMPORTED.iter().find(|k| k.to_ascii_lowercase() == kind) {
                folder
                    .skipped
                    .push(format!("{source} ({k}: castguard does not import these)"));
                return Ok(());
            }
            KINDS
                .iter()
                .find(|(f, _)| f.to_ascii_lowercase() == kind)
                .map(|(_, c)| *c)
                .ok_or_else(|| {
                    Failure::input(format!("{source}: type: unknown resource type '{t}'"))
                })?
        }
        _ => match KINDS.iter().find(|(f, c)| *f == parent || *c == parent) {
            Some((_, c)) => c,
            None => {
                return Err(Failure::input(format!(
                    "{source}: type: cannot tell what resource this is (no `type`, and its folder is not one of {})",
                    KINDS.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
                )));
            }
        },
    };
    let name = match (body.get("name"), stem) {
        (Some(Value::String(n)), _) => n.clone(),
        (None | Some(Value::Null), Some(s)) if !s.is_empty() => s.to_string(),
        _ => {
            return Err(Failure::input(format!("{source}: name: missing")));
        }
    };
    seg(&name).map_err(|_| {
        Failure::input(format!(
            "{source}: name: '{name}' is not a valid name (letters, digits, '_', '.', '-')"
        ))
    })?;
    body.insert("name".into(), Value::from(name.clone()));
    folder.resources.push(Resource {
        collection: kind,
        name,
        source,
        body,
    });
    Ok(())
}

/// The request's resources: policy secrets and locator key values merged
/// into their resources.
fn assemble(mut folder: Folder) -> Result<Vec<Value>, Failure> {
    for (policy, (secrets, source)) in std::mem::take(&mut folder.policy_secrets) {
        match folder
            .resources
            .iter_mut()
            .find(|r| r.collection == "content-key-policies" && r.name == policy)
        {
            Some(r) => keys::model::fields::in_properties(&mut r.body, |p| {
                for (k, v) in secrets {
                    p.insert(k, v);
                }
            }),
            None => {
                let mut body = secrets;
                body.insert("name".into(), Value::from(policy.clone()));
                folder.resources.push(Resource {
                    collection: "content-key-policies",
                    name: policy,
                    source,
                    body,
                });
            }
        }
    }
    for (locator, (keys, source)) in std::mem::take(&mut folder.locator_keys) {
        let Some(r) = folder
            .resources
            .iter_mut()
            .find(|r| r.collection == "streaming-locators" && r.name == locator)
        else {
            return Err(Failure::input(format!(
                "{source}: the streaming locator '{locator}' is not in the folder"
            )));
        };
        keys::model::fields::in_properties(&mut r.body, |p| merge_keys(p, keys, &source))?;
    }
    Ok(folder
        .resources
        .into_iter()
        .map(|r| json!({"collection": r.collection, "source": r.source, "resource": Value::Object(r.body)}))
        .collect())
}

/// Puts each `listContentKeys` entry's value (and its policy, type and
/// label when the locator lacks them) into the locator's `contentKeys`.
fn merge_keys(p: &mut Map<String, Value>, keys: Vec<Value>, source: &str) -> Result<(), Failure> {
    if !matches!(p.get("contentKeys"), Some(Value::Array(_))) {
        p.insert("contentKeys".into(), Value::Array(Vec::new()));
    }
    let Some(Value::Array(listed)) = p.get_mut("contentKeys") else {
        return Ok(());
    };
    for (i, k) in keys.into_iter().enumerate() {
        let Value::Object(k) = k else {
            return Err(Failure::input(format!(
                "{source}: contentKeys[{i}]: not a JSON object"
            )));
        };
        let Some(id) = k.get("id").and_then(Value::as_str) else {
            return Err(Failure::input(format!(
                "{source}: contentKeys[{i}].id: missing"
            )));
        };
        let id = id.to_ascii_lowercase();
        let n = match listed.iter().position(|e| {
            e["id"].as_str().map(str::to_ascii_lowercase).as_deref() == Some(id.as_str())
        }) {
            Some(n) => n,
            None => {
                listed.push(json!({ "id": id }));
                listed.len() - 1
            }
        };
        let Some(Value::Object(entry)) = listed.get_mut(n) else {
            continue;
        };
        for field in [
            "value",
            "policyName",
            "type",
            "labelReferenceInStreamingPolicy",
        ] {
            if let Some(v) = k.get(field).filter(|v| !v.is_null())
                && (field == "value" || !entry.contains_key(field))
            {
                entry.insert(field.into(), v.clone());
            }
        }
    }
    Ok(())
}

pub fn export(args: ExportArgs) -> Result<(), Failure> {
    let dir = &args.dir;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| Failure::input(format!("{}: {e}", dir.display())))?
            .next()
            .is_some()
    {
        return Err(Failure::input(format!(
            "{}: exists and is not empty",
            dir.display()
        )));
    }
    let c = connect(&args.conn)?;
    let mut written = 0usize;
    for (folder, collection) in KINDS {
        if collection == "content-keys" {
            continue; // exported with their locators (listContentKeys)
        }
        for item in c.list_all(collection)? {
            let Some(name) = item["name"].as_str().map(str::to_string) else {
                continue;
            };
            let properties = match collection {
                "streaming-policies" if keys::model::StreamingPolicy::is_predefined_name(&name) => {
                    continue;
                }
                "content-key-policies" => c.post(&format!(
                    "/api/v1/content-key-policies/{}/get-policy-properties-with-secrets",
                    seg(&name)?
                ))?,
                "assets" => {
                    let mut a = item.clone();
                    if let Value::Object(m) = &mut a {
                        m.remove("storage");
                    }
                    a
                }
                _ => item.clone(),
            };
            let mut properties = properties;
            if let Value::Object(m) = &mut properties {
                m.remove("name");
            }
            let resource = json!({
                "name": name,
                "type": format!("Microsoft.Media/mediaservices/{folder}"),
                "properties": properties,
            });
            write(dir, folder, &format!("{name}.json"), &resource)?;
            written += 1;
            if collection == "streaming-locators" {
                let keys = c.post(&format!(
                    "/api/v1/streaming-locators/{}/list-content-keys?includeValues=true",
                    seg(&name)?
                ))?;
                write(dir, folder, &format!("{name}.contentKeys.json"), &keys)?;
            }
        }
    }
    if !args.conn.json {
        println!(
            "exported {written} resource(s) to {} (it holds token keys and content key values: keep it private)",
            dir.display()
        );
    }
    Ok(())
}

/// Writes `value` to `dir/folder/file`, readable by the owner only.
fn write(dir: &Path, folder: &str, file: &str, value: &Value) -> Result<(), Failure> {
    let sub = dir.join(folder);
    std::fs::create_dir_all(&sub).map_err(|e| Failure::input(format!("{}: {e}", sub.display())))?;
    let path = sub.join(file);
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::input(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write as _;
    options
        .open(&path)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())
                .and_then(|_| f.write_all(b"\n"))
        })
        .map_err(|e| Failure::input(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_with(files: &[(&str, Value)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (path, v) in files {
            let p = d.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, serde_json::to_string(v).unwrap()).unwrap();
        }
        d
    }

    #[test]
    fn kinds_come_from_type_or_folder_and_keys_merge_into_locators() {
        let d = folder_with(&[
            (
                "streamingLocators/loc.json",
                json!({"name": "loc", "properties": {"assetName": "a",
                "streamingPolicyName": "Predefined_ClearKey",
                "contentKeys": [{"id": "60000000-0000-0000-0000-000000000001", "type": "EnvelopeEncryption", "tracks": []}]}}),
            ),
            (
                "streamingLocators/loc.contentKeys.json",
                json!({"contentKeys": [{"id": "60000000-0000-0000-0000-000000000001",
                "type": "EnvelopeEncryption", "value": "AAECAwQFBgcICQoLDA0ODw==", "policyName": "p"}]}),
            ),
            (
                "misc/all.json",
                json!({"value": [{"name": "a", "type": "Microsoft.Media/mediaservices/assets", "properties": {}},
                {"name": "t", "type": "Microsoft.Media/mediaservices/transforms", "properties": {}}]}),
            ),
            (
                "contentKeyPolicies/p.json",
                json!({"properties": {"options": []}}),
            ),
            (
                "contentKeyPolicies/p.secrets.json",
                json!({"options": [{"x": 1}]}),
            ),
        ]);
        let folder = read(d.path()).unwrap();
        assert_eq!(folder.skipped.len(), 1, "{:?}", folder.skipped);
        let out = assemble(folder).unwrap();
        let find = |c: &str| out.iter().find(|r| r["collection"] == c).unwrap().clone();
        assert_eq!(find("assets")["resource"]["name"], "a");
        let policy = find("content-key-policies");
        assert_eq!(policy["resource"]["name"], "p");
        assert_eq!(policy["resource"]["properties"]["options"][0]["x"], 1);
        let loc = find("streaming-locators");
        let key = &loc["resource"]["properties"]["contentKeys"][0];
        assert_eq!(key["value"], "AAECAwQFBgcICQoLDA0ODw==");
        assert_eq!(key["policyName"], "p");
        assert_eq!(loc["source"], "streamingLocators/loc.json");
    }

    #[test]
    fn keys_of_an_unknown_locator_and_unknown_folders_are_named() {
        let d = folder_with(&[(
            "streamingLocators/nope.contentKeys.json",
            json!({"contentKeys": []}),
        )]);
        let e = assemble(read(d.path()).unwrap()).err().unwrap();
        assert!(e.message.contains("nope.contentKeys.json"), "{}", e.message);
        let d = folder_with(&[("other/x.json", json!({"properties": {}}))]);
        let e = read(d.path()).err().unwrap();
        assert!(
            e.message.starts_with("other/x.json: type:"),
            "{}",
            e.message
        );
    }
}
