//! `POST /api/v1/import`: many resources of the retired cloud service's
//! account export, recreated in one transaction (issue 17), and
//! `POST /api/v1/content-key-policies/{name}/get-policy-properties-with-secrets`,
//! the v3 action an export needs to carry token keys.
//!
//! Why one request and not one PUT per file: an account moves as a whole.
//! Either every policy, key and locator of the export exists afterwards,
//! with the ids its players and tokens use, or none does and the operator
//! fixes the one file named in the error. The store writes the batch in one
//! transaction ([`store::Store::import`]); `?dryRun=true` runs the same
//! checks and writes and rolls them back, so its answer (what would be
//! created or replaced, and every field castguard would not keep) is exactly
//! what the import would do.
//!
//! Each resource goes through the same code as its `PUT`
//! ([`entity::prepare`]): the v3 envelope, the entity's own rules, unknown
//! fields refused by name. What is particular to an import:
//! - a locator's content keys carry their values inline (v3 allows it in a
//!   create request, and `castguard import` merges the locator's
//!   `listContentKeys` output into it): each becomes a content key entity,
//!   named by its key ID (or the name castguard already has for that ID), of
//!   the type its locator entry says, with the policy `listContentKeys`
//!   gave;
//! - a locator key with no value that castguard does not already hold is
//!   refused: the export was made without secrets;
//! - the predefined streaming policies castguard has built in are skipped;
//! - resources are written in dependency order (assets, content key
//!   policies, streaming policies, content keys, locators), whatever the
//!   order of the request.

use super::entity::{self, NotKept};
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityName, JsonObject, parse_flag};
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use keys::model::{
    Asset, ContentKey, ContentKeyPolicy, StreamingLocator, StreamingPolicy, validate_name,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use store::{Entity, ImportItem, Imported, StoreError};

/// Largest import request: an account export of thousands of resources.
pub const IMPORT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Most resources in one import.
pub const MAX_IMPORT_RESOURCES: usize = 20_000;

/// The collections in the order their resources are written: each may only
/// refer to the ones before it.
const ORDER: [&str; 5] = [
    Asset::COLLECTION,
    ContentKeyPolicy::COLLECTION,
    StreamingPolicy::COLLECTION,
    ContentKey::COLLECTION,
    StreamingLocator::COLLECTION,
];

/// One resource of the answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedResource {
    pub collection: &'static str,
    pub name: String,
    /// Where the resource came from, as the request named it.
    pub source: String,
    /// `create`, `replace`, or `skip` (a predefined streaming policy).
    pub action: &'static str,
    /// The entity as stored (secrets and key values left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Fields of the request castguard does not keep, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_kept: Vec<NotKept>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResponse {
    pub dry_run: bool,
    pub resources: Vec<ImportedResource>,
}

/// A resource of the request, before it is checked.
struct Pending {
    collection: &'static str,
    name: String,
    source: String,
    body: JsonObject,
    /// What the import itself left out (before the entity's checks).
    not_kept: Vec<NotKept>,
}

/// A resource checked and ready for the store.
struct Ready {
    collection: &'static str,
    name: String,
    source: String,
    item: ImportItem,
    not_kept: Vec<NotKept>,
}

/// An error about one resource: a 400 whose message starts with where the
/// resource came from, so the one line names the file and the field.
fn in_resource(source: &str, e: ApiError) -> ApiError {
    let (field, message) = match e {
        ApiError::BadRequest { field, message } => (field, message),
        ApiError::NotFound {
            field: Some(field),
            message,
        } => {
            // The store's message already starts with the field.
            let message = match message.strip_prefix(&format!("{field}: ")) {
                Some(m) => m.to_string(),
                None => message,
            };
            (field, message)
        }
        ApiError::NotFound {
            field: None,
            message,
        }
        | ApiError::Conflict { message } => (String::new(), message),
        other => return other,
    };
    let at = if field.is_empty() {
        source.to_string()
    } else {
        format!("{source}: {field}")
    };
    ApiError::bad_request(at, message)
}

fn collection(name: &str) -> Option<&'static str> {
    ORDER.iter().copied().find(|c| *c == name)
}

#[utoipa::path(post, path = "/api/v1/import", tag = "import", operation_id = "importResources",
    params(crate::openapi::schemas::DryRun),
    request_body = crate::openapi::schemas::ImportRequest,
    responses((status = 200, description = "Imported (or, with dryRun, what would be)", body = crate::openapi::schemas::ImportResponse),
        (status = 400, body = crate::openapi::schemas::Error), (status = 401, body = crate::openapi::schemas::Error),
        (status = 413, body = crate::openapi::schemas::Error)))]
pub async fn import(
    _: Admin,
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Json<ImportResponse>> {
    let dry_run = parse_flag("dryRun", q.get("dryRun").map(String::as_str))?;
    let pending = parse_request(&body)?;
    let (pending, skipped) = split_inline_keys(&s, pending).await?;
    let mut ready = Vec::with_capacity(pending.len());
    for p in pending {
        let source = p.source.clone();
        ready.push(prepare(&s, p).await.map_err(|e| in_resource(&source, e))?);
    }
    refuse_duplicates(&ready)?;
    ready.sort_by_key(|r| ORDER.iter().position(|c| *c == r.collection));
    let items = ready.iter().map(|r| r.item.clone()).collect();
    let done = match s.store().import(items, dry_run).await {
        Ok(done) => done,
        Err(StoreError::InImport { index, source }) => {
            let at = ready.get(index).map_or("", |r| r.source.as_str());
            return Err(in_resource(at, ApiError::from(*source)));
        }
        Err(e) => return Err(e.into()),
    };
    let mut resources = skipped;
    for (r, d) in ready.into_iter().zip(done) {
        let (created, value) = match d {
            Imported::Asset(p) => (p.created, serde_json::to_value(p.value)),
            Imported::ContentKeyPolicy(p) => {
                (p.created, serde_json::to_value(p.value.without_secrets()))
            }
            Imported::StreamingPolicy(p) => (p.created, serde_json::to_value(p.value)),
            Imported::ContentKey(p) => (p.created, serde_json::to_value(p.value)),
            Imported::StreamingLocator(p) => (p.created, serde_json::to_value(p.value)),
        };
        resources.push(ImportedResource {
            collection: r.collection,
            name: r.name,
            source: r.source,
            action: if created { "create" } else { "replace" },
            value: Some(value.map_err(ApiError::internal)?),
            not_kept: r.not_kept,
        });
    }
    if !dry_run {
        tracing::info!(resources = resources.len(), "account export imported");
    }
    Ok(Json(ImportResponse { dry_run, resources }))
}

/// `{"resources": [{"collection", "source", "resource"}]}`, each resource
/// an entity body (flat or the v3 envelope) with its `name`.
fn parse_request(body: &[u8]) -> ApiResult<Vec<Pending>> {
    if body.len() > IMPORT_BODY_LIMIT {
        return Err(ApiError::PayloadTooLarge {
            limit: IMPORT_BODY_LIMIT as u64,
        });
    }
    let request = match crate::json::parse_unique(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "",
                "the request body must be a JSON object",
            ));
        }
        Err(crate::json::JsonError::DuplicateKey { path, key }) => {
            return Err(ApiError::bad_request(
                path,
                format!("duplicate key '{key}'"),
            ));
        }
        Err(e) => {
            return Err(ApiError::bad_request(
                "",
                format!("the request body is {e}"),
            ));
        }
    };
    if let Some(k) = request.keys().find(|k| k.as_str() != "resources") {
        return Err(ApiError::bad_request(k.as_str(), "unknown field"));
    }
    let Some(Value::Array(list)) = request.get("resources") else {
        return Err(ApiError::bad_request("resources", "must be an array"));
    };
    if list.len() > MAX_IMPORT_RESOURCES {
        return Err(ApiError::bad_request(
            "resources",
            format!("at most {MAX_IMPORT_RESOURCES} resources in one import"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let at = format!("resources[{i}]");
        let Value::Object(r) = r else {
            return Err(ApiError::bad_request(at, "must be an object"));
        };
        if let Some(k) = r
            .keys()
            .find(|k| !matches!(k.as_str(), "collection" | "source" | "resource"))
        {
            return Err(ApiError::bad_request(format!("{at}.{k}"), "unknown field"));
        }
        let source = match r.get("source") {
            None => at.clone(),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => s.clone(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    format!("{at}.source"),
                    "must be a string of 1 to 1024 characters",
                ));
            }
        };
        let Some(collection) = r
            .get("collection")
            .and_then(Value::as_str)
            .and_then(collection)
        else {
            return Err(ApiError::bad_request(
                format!("{source}: collection"),
                format!("must be one of {}", ORDER.join(", ")),
            ));
        };
        let Some(Value::Object(resource)) = r.get("resource") else {
            return Err(ApiError::bad_request(
                format!("{source}: resource"),
                "must be a JSON object",
            ));
        };
        let name = match resource.get("name") {
            Some(Value::String(n)) => n.clone(),
            _ => {
                return Err(ApiError::bad_request(
                    format!("{source}: name"),
                    "every imported resource needs its name",
                ));
            }
        };
        validate_name("name", &name).map_err(|e| in_resource(&source, e.into()))?;
        out.push(Pending {
            collection,
            name,
            source,
            body: JsonObject(resource.clone()),
            not_kept: Vec::new(),
        });
    }
    Ok(out)
}

/// Moves the inline key values of every locator into content key
/// resources of their own (one per key ID, however many locators share
/// it), and refuses a locator key that has no value here nor in the store.
/// Also takes out the predefined streaming policies (answered as `skip`).
async fn split_inline_keys(
    s: &AppState,
    pending: Vec<Pending>,
) -> ApiResult<(Vec<Pending>, Vec<ImportedResource>)> {
    let mut out = Vec::with_capacity(pending.len());
    let mut skipped = Vec::new();
    // Key ID -> (value, source) of the content keys made so far.
    let mut made: HashMap<String, (Value, String)> = HashMap::new();
    let mut keys_out = Vec::new();
    let mut missing: Vec<(uuid::Uuid, String)> = Vec::new();
    for mut p in pending {
        if p.collection == StreamingPolicy::COLLECTION
            && StreamingPolicy::is_predefined_name(&p.name)
        {
            skipped.push(ImportedResource {
                collection: p.collection,
                name: p.name,
                source: p.source,
                action: "skip",
                value: None,
                not_kept: vec![NotKept {
                    field: String::new(),
                    reason: "a predefined streaming policy: castguard has it built in",
                }],
            });
            continue;
        }
        if p.collection == StreamingPolicy::COLLECTION {
            drop_other_protocols(&mut p);
        }
        if p.collection != StreamingLocator::COLLECTION {
            out.push(p);
            continue;
        }
        let source = p.source.clone();
        for k in keys::model::fields::in_properties(&mut p.body.0, take_inline_keys) {
            let at = format!("{source}: contentKeys[{}]", k.index);
            let id = k.id.hyphenated().to_string();
            let Some(value) = k.value else {
                missing.push((k.id, format!("{at}.value")));
                continue;
            };
            if let Some((earlier, from)) = made.get(&id) {
                if *earlier != value {
                    return Err(ApiError::bad_request(
                        format!("{at}.value"),
                        format!("key {id} has another value in {from}"),
                    ));
                }
                continue;
            }
            let name = match s.store().get_content_key_by_key_id(k.id).await {
                Ok(existing) => existing.key.name,
                Err(StoreError::NotFound { .. }) => id.clone(),
                Err(e) => return Err(e.into()),
            };
            let mut body = Map::new();
            body.insert("name".into(), Value::from(name.clone()));
            body.insert("keyId".into(), Value::from(id.clone()));
            body.insert("type".into(), Value::from(k.key_type));
            body.insert("value".into(), value.clone());
            if let Some(l) = k.label {
                body.insert("label".into(), l);
            }
            if let Some(pn) = k.policy {
                body.insert("policyName".into(), pn);
            }
            made.insert(id, (value, at.clone()));
            keys_out.push(Pending {
                collection: ContentKey::COLLECTION,
                name,
                source: at,
                body: JsonObject(body),
                not_kept: Vec::new(),
            });
        }
        out.push(p);
    }
    for (kid, at) in missing {
        let id = kid.hyphenated().to_string();
        if made.contains_key(&id) {
            continue;
        }
        match s.store().get_content_key_by_key_id(kid).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::bad_request(
                    at,
                    format!(
                        "content key {id} has no value: the export was made without secrets \
                         (add the locator's listContentKeys output)"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    out.extend(keys_out);
    Ok((out, skipped))
}

/// The service enabled Smooth Streaming (and download) in most streaming
/// policies, its predefined ones included; castguard serves DASH and HLS
/// only and refuses a policy that asks for more. An export is imported
/// with them switched off, and says so.
fn drop_other_protocols(p: &mut Pending) {
    let dropped = keys::model::fields::in_properties(&mut p.body.0, |props| {
        let mut dropped = Vec::new();
        for scheme in [
            "noEncryption",
            "envelopeEncryption",
            "commonEncryptionCenc",
            "commonEncryptionCbcs",
        ] {
            let Some(Value::Object(protocols)) = props
                .get_mut(scheme)
                .and_then(|s| s.get_mut("enabledProtocols"))
            else {
                continue;
            };
            for protocol in ["smoothStreaming", "download"] {
                if protocols.get(protocol) == Some(&Value::Bool(true)) {
                    protocols.insert(protocol.into(), Value::Bool(false));
                    dropped.push(format!("{scheme}.enabledProtocols.{protocol}"));
                }
            }
        }
        dropped
    });
    p.not_kept.extend(dropped.into_iter().map(|field| NotKept {
        field,
        reason: "castguard serves DASH and HLS only",
    }));
}

/// A locator's content key as the export gave it.
struct InlineKey {
    index: usize,
    id: uuid::Uuid,
    value: Option<Value>,
    key_type: &'static str,
    label: Option<Value>,
    policy: Option<Value>,
}

/// The keys of a locator's `contentKeys`, their values taken out of the
/// body (a locator never stores them). Entries without a parsable `id` are
/// left to the locator's own checks, which name them.
fn take_inline_keys(props: &mut Map<String, Value>) -> Vec<InlineKey> {
    let Some(Value::Array(keys)) = props.get_mut("contentKeys") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, k) in keys.iter_mut().enumerate() {
        let Value::Object(k) = k else { continue };
        let Some(Ok(id)) = k
            .get("id")
            .and_then(Value::as_str)
            .map(str::parse::<uuid::Uuid>)
        else {
            continue;
        };
        let present = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
        out.push(InlineKey {
            index,
            id,
            value: k.remove("value").filter(|v| !v.is_null()),
            key_type: match k.get("type").and_then(Value::as_str) {
                Some("EnvelopeEncryption") => "EnvelopeEncryption",
                _ => "CommonEncryption",
            },
            label: present(k.get("labelReferenceInStreamingPolicy")),
            // Read-only in a locator: the key's own policy, which the
            // import gives to the content key it makes.
            policy: present(k.get("policyName")),
        });
    }
    out
}

async fn prepare(s: &AppState, p: Pending) -> ApiResult<Ready> {
    let mut not_kept = p.not_kept;
    macro_rules! ready {
        ($ty:ty, $variant:ident) => {{
            let (value, more) = entity::prepare::<$ty>(s, p.name.clone(), p.body).await?;
            not_kept.extend(more);
            Ready {
                collection: p.collection,
                name: p.name,
                source: p.source,
                item: ImportItem::$variant(value),
                not_kept,
            }
        }};
    }
    Ok(match p.collection {
        c if c == Asset::COLLECTION => ready!(Asset, Asset),
        c if c == ContentKeyPolicy::COLLECTION => ready!(ContentKeyPolicy, ContentKeyPolicy),
        c if c == StreamingPolicy::COLLECTION => ready!(StreamingPolicy, StreamingPolicy),
        c if c == ContentKey::COLLECTION => ready!(ContentKey, ContentKey),
        _ => ready!(StreamingLocator, StreamingLocator),
    })
}

/// Two resources of one collection with one name: which would win is an
/// accident of order, so neither does.
fn refuse_duplicates(ready: &[Ready]) -> ApiResult<()> {
    let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
    for r in ready {
        if let Some(first) = seen.insert((r.collection, r.name.as_str()), r.source.as_str()) {
            return Err(ApiError::bad_request(
                format!("{}: name", r.source),
                format!(
                    "{} '{}' is also in {first}: one name, one resource",
                    r.collection, r.name
                ),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/content-key-policies/{name}/get-policy-properties-with-secrets",
    tag = "content-key-policies", operation_id = "getContentKeyPolicyWithSecrets",
    params(crate::openapi::schemas::Name),
    responses((status = 200, description = "The policy with its secrets (token keys, FairPlay credentials, upstream headers)", body = crate::openapi::schemas::ContentKeyPolicy),
        (status = 400, body = crate::openapi::schemas::Error), (status = 401, body = crate::openapi::schemas::Error),
        (status = 404, body = crate::openapi::schemas::Error)))]
pub async fn get_with_secrets(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<Value>> {
    let policy = s.store().get_content_key_policy(&name).await?;
    tracing::info!(policy = %name, "content key policy read with its secrets");
    Ok(Json(json!(policy)))
}
