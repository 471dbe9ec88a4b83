//! `/api/v1/streaming-locators`: an asset published under a streaming policy
//! with its keys, and the two v3 actions on a locator:
//! - `list-paths`: the stream URLs per protocol and encryption scheme, from
//!   the streaming policy's enabled protocols (v3 `ListPathsResponse`):
//!   DASH `/s/{streamingLocatorId}/{variant}/manifest.mpd`, HLS
//!   `/s/{streamingLocatorId}/{variant}/master.m3u8`, where the variant
//!   (`clear`, `cenc`, `cbcs`, `aes128`) names the encryption in the path, so
//!   each scheme of a multi-DRM policy has its own CDN-cacheable URL tree
//!   (the origin's layout, `server::delivery::origin`).
//! - `list-content-keys`: key IDs, types, labels and policies; the values
//!   only on an explicit `?includeValues=true`.
//!
//! Inline key values in a create request (v3 allows
//! `contentKeys[].value`) are refused with a 400 naming the field: keys are
//! their own entity here, created first with `PUT /content-keys/{name}`, so a
//! locator write never has to create keys as a side effect.

use super::entity::ApiEntity;
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityName, JsonObject, parse_flag};
use crate::openapi::schemas;
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::extract::{Query, State};
use keys::model::{
    ContentKeyType, ContentKeyValue, EnabledProtocols, StreamingLocator,
    StreamingLocatorContentKeyType, StreamingPolicy, Validate,
};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

entity_api! {
    entity: StreamingLocator,
    collection: "streaming-locators",
    operations: "listStreamingLocators", "getStreamingLocator", "putStreamingLocator", "deleteStreamingLocator",
    schemas: StreamingLocatorList, StreamingLocator, StreamingLocatorInput,
    list: "One page of streaming locators",
    get: "The streaming locator",
    put_404: "The asset, a policy or a key it names does not exist",
    delete: "Deleted",
}

impl ApiEntity for StreamingLocator {
    const NOT_KEPT: &'static [(&'static str, &'static str)] = &[
        ("created", super::entity::SET_BY_CASTGUARD),
        (
            "contentKeys[].tracks",
            "read-only: which tracks a key protects follows from the streaming policy",
        ),
        (
            "filters",
            "dynamic filters are not supported: the locator streams every track of its asset",
        ),
    ];

    async fn from_put(_: &AppState, name: String, body: JsonObject) -> ApiResult<Self> {
        let locator: StreamingLocator = body.with_name(&name)?.parse()?;
        if let Some(i) = locator.content_keys.iter().position(|k| k.value.is_some()) {
            return Err(ApiError::bad_request(
                format!("contentKeys[{i}].value"),
                "inline key values are not accepted: create the key with PUT /api/v1/content-keys/{name} and refer to its id",
            ));
        }
        for (i, k) in locator.content_keys.iter().enumerate() {
            if locator.content_keys.iter().take(i).any(|o| o.id == k.id) {
                return Err(ApiError::Conflict {
                    message: format!("contentKeys[{i}].id: key {} is listed twice", k.id),
                });
            }
        }
        locator.validate()?;
        Ok(locator)
    }
}

/// v3 `StreamingPath`.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPath {
    pub streaming_protocol: &'static str,
    pub encryption_scheme: &'static str,
    pub paths: Vec<String>,
}

/// v3 `ListPathsResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPathsResponse {
    pub streaming_paths: Vec<StreamingPath>,
    pub download_paths: Vec<String>,
}

/// The schemes of a policy with their protocols, in the order their paths
/// are listed, and the `encryption` query value of each.
fn schemes(p: &StreamingPolicy) -> Vec<(&'static str, &'static str, EnabledProtocols)> {
    let or_both = |e: Option<EnabledProtocols>| e.unwrap_or(EnabledProtocols::DASH_HLS);
    let mut v = Vec::new();
    if let Some(n) = &p.no_encryption {
        v.push(("NoEncryption", "clear", or_both(n.enabled_protocols)));
    }
    if let Some(c) = &p.common_encryption_cenc {
        v.push(("CommonEncryptionCenc", "cenc", or_both(c.enabled_protocols)));
    }
    if let Some(c) = &p.common_encryption_cbcs {
        v.push(("CommonEncryptionCbcs", "cbcs", or_both(c.enabled_protocols)));
    }
    if let Some(e) = &p.envelope_encryption {
        v.push(("EnvelopeEncryption", "aes128", or_both(e.enabled_protocols)));
    }
    v
}

/// The streaming paths of a locator id under a policy.
pub fn streaming_paths(locator_id: Uuid, policy: &StreamingPolicy) -> Vec<StreamingPath> {
    let mut out = Vec::new();
    for (protocol, file, enabled) in [
        (
            "Dash",
            "manifest.mpd",
            (|e| e.dash) as fn(&EnabledProtocols) -> bool,
        ),
        ("Hls", "master.m3u8", |e| e.hls),
    ] {
        for (scheme, variant, protocols) in schemes(policy) {
            if !enabled(&protocols) {
                continue;
            }
            let path = format!("/s/{locator_id}/{variant}/{file}");
            out.push(StreamingPath {
                streaming_protocol: protocol,
                encryption_scheme: scheme,
                paths: vec![path],
            });
        }
    }
    out
}

#[utoipa::path(post, path = "/api/v1/streaming-locators/{name}/list-paths", tag = "streaming-locators", operation_id = "listStreamingLocatorPaths",
    params(schemas::Name),
    responses((status = 200, description = "Stream URLs (paths relative to this server)", body = schemas::ListPathsResponse),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn list_paths(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<ListPathsResponse>> {
    let locator = s.store().get_streaming_locator(&name).await?;
    let policy = s
        .store()
        .get_streaming_policy(&locator.streaming_policy_name)
        .await?;
    let id = locator.streaming_locator_id.ok_or_else(|| {
        ApiError::internal(format!(
            "streaming locator '{name}' has no streamingLocatorId"
        ))
    })?;
    Ok(Json(ListPathsResponse {
        streaming_paths: streaming_paths(id, &policy),
        download_paths: Vec::new(),
    }))
}

/// v3 `StreamingLocatorContentKey` as `listContentKeys` returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocatorKey {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub key_type: StreamingLocatorContentKeyType,
    /// castguard: the content key entity's name.
    pub key_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_reference_in_streaming_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<ContentKeyValue>,
}

#[derive(Debug, Serialize)]
pub struct ListContentKeysResponse {
    #[serde(rename = "contentKeys")]
    pub content_keys: Vec<LocatorKey>,
}

#[utoipa::path(post, path = "/api/v1/streaming-locators/{name}/list-content-keys", tag = "streaming-locators",
    operation_id = "listStreamingLocatorContentKeys",
    params(schemas::Name, schemas::IncludeValues),
    responses((status = 200, description = "The locator's keys; values only with includeValues=true", body = schemas::ListContentKeysResponse),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn list_content_keys(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<ListContentKeysResponse>> {
    let include_values = parse_flag("includeValues", q.get("includeValues").map(String::as_str))?;
    let locator = s.store().get_streaming_locator(&name).await?;
    let policy = s
        .store()
        .get_streaming_policy(&locator.streaming_policy_name)
        .await?;
    let mut out = Vec::with_capacity(locator.content_keys.len());
    for k in &locator.content_keys {
        let stored = s.store().get_content_key_by_key_id(k.id).await?;
        let key_type = k.key_type.unwrap_or(match stored.key.key_type {
            ContentKeyType::EnvelopeEncryption => {
                StreamingLocatorContentKeyType::EnvelopeEncryption
            }
            ContentKeyType::CommonEncryption
                if policy.common_encryption_cenc.is_none()
                    && policy.common_encryption_cbcs.is_some() =>
            {
                StreamingLocatorContentKeyType::CommonEncryptionCbcs
            }
            ContentKeyType::CommonEncryption => {
                StreamingLocatorContentKeyType::CommonEncryptionCenc
            }
        });
        out.push(LocatorKey {
            id: k.id,
            key_type,
            key_name: stored.key.name.clone(),
            label_reference_in_streaming_policy: k
                .label_reference_in_streaming_policy
                .clone()
                .or(stored.key.label.clone()),
            policy_name: stored
                .key
                .policy_name
                .clone()
                .or_else(|| locator.default_content_key_policy_name.clone())
                .or_else(|| policy.default_content_key_policy_name.clone()),
            value: include_values.then(|| stored.value.clone()),
        });
    }
    if include_values {
        tracing::info!(locator = %name, keys = out.len(), "content key values listed");
    }
    Ok(Json(ListContentKeysResponse { content_keys: out }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keys::model::{
        PREDEFINED_CLEAR_KEY, PREDEFINED_MULTI_DRM_STREAMING, predefined_streaming_policy,
    };

    #[test]
    fn multi_drm_paths_name_each_scheme_once_per_protocol() {
        let id: Uuid = "11111111-2222-4333-8444-555555555555".parse().unwrap();
        let p = predefined_streaming_policy(PREDEFINED_MULTI_DRM_STREAMING).unwrap();
        let paths = streaming_paths(id, &p);
        assert_eq!(
            paths,
            vec![
                StreamingPath {
                    streaming_protocol: "Dash",
                    encryption_scheme: "CommonEncryptionCenc",
                    paths: vec![format!("/s/{id}/cenc/manifest.mpd")]
                },
                StreamingPath {
                    streaming_protocol: "Hls",
                    encryption_scheme: "CommonEncryptionCbcs",
                    paths: vec![format!("/s/{id}/cbcs/master.m3u8")]
                },
            ]
        );
        let clear_key = streaming_paths(
            id,
            &predefined_streaming_policy(PREDEFINED_CLEAR_KEY).unwrap(),
        );
        assert_eq!(clear_key.len(), 2);
        assert!(
            clear_key
                .iter()
                .all(|p| p.encryption_scheme == "EnvelopeEncryption")
        );
    }

    #[test]
    fn each_scheme_on_one_protocol_has_its_own_path() {
        let id = Uuid::new_v4();
        let mut p = predefined_streaming_policy(PREDEFINED_MULTI_DRM_STREAMING).unwrap();
        if let Some(c) = p.common_encryption_cbcs.as_mut() {
            c.enabled_protocols = Some(EnabledProtocols::DASH_HLS);
        }
        let dash: Vec<_> = streaming_paths(id, &p)
            .into_iter()
            .filter(|s| s.streaming_protocol == "Dash")
            .collect();
        assert_eq!(dash.len(), 2);
        assert_eq!(dash[0].paths, vec![format!("/s/{id}/cenc/manifest.mpd")]);
        assert_eq!(dash[1].paths, vec![format!("/s/{id}/cbcs/manifest.mpd")]);
    }
}
