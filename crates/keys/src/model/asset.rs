//! Asset: one clear copy of a title, ingested as CMAF, from which every
//! protected output is derived on request (DESIGN.md, "Data model").
//!
//! v3 `AssetProperties` fields kept: `assetId`, `created`, `lastModified`,
//! `alternateId`, `description`. The v3 `container`/`storageAccountName` name
//! blob storage; castguard replaces them with `storage`, the location and
//! track summary of the ingested CMAF, written by the packager.

use super::rfc3339_opt;
use super::validate::{
    MAX_TEXT_LEN, Problem, Validate, ValidationError, validate_name, validate_opt_text,
    validate_text,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    pub name: String,
    /// Server-assigned; the store sets it on creation when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub created: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub last_modified: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// castguard: where the ingested clear media lives.
    pub storage: AssetStorage,
}

/// Where an asset's clear CMAF is and what it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetStorage {
    /// Path of the asset's folder, relative to the media root (or absolute).
    pub path: String,
    /// Summary of the tracks (codec, language, bitrate, ...) as written by the
    /// packager; kept opaque here so `media` owns its shape.
    #[serde(default)]
    pub tracks: serde_json::Value,
}

impl Validate for Asset {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_name("name", &self.name)?;
        validate_opt_text("alternateId", self.alternate_id.as_deref(), 260)?;
        validate_opt_text("description", self.description.as_deref(), MAX_TEXT_LEN)?;
        validate_text("storage.path", &self.storage.path, 4096)?;
        if self.storage.path.split(['/', '\\']).any(|c| c == "..") {
            return Err(ValidationError::new(
                "storage.path",
                Problem::Invalid("must not contain '..' components"),
            ));
        }
        if !(self.storage.tracks.is_null()
            || self.storage.tracks.is_array()
            || self.storage.tracks.is_object())
        {
            return Err(ValidationError::new(
                "storage.tracks",
                Problem::Invalid("must be a JSON array or object"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse_valid;

    #[test]
    fn round_trip() {
        let json = r#"{
            "name": "bbb-1080p",
            "assetId": "1b2e9e6c-3f39-4d23-9a8f-7d5d6c2a1e01",
            "created": "2026-11-20T10:00:00Z",
            "description": "Big Buck Bunny",
            "storage": {"path": "assets/bbb-1080p", "tracks": [{"id": 1, "type": "video", "codec": "avc1.64001f"}]}
        }"#;
        let a: Asset = parse_valid(json).unwrap();
        assert_eq!(a.storage.tracks[0]["codec"], "avc1.64001f");
        let again: Asset = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(a, again);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["created"], "2026-11-20T10:00:00Z");
        assert!(v.get("lastModified").is_none());
    }

    #[test]
    fn path_traversal_refused() {
        let a = Asset {
            name: "a".into(),
            asset_id: None,
            created: None,
            last_modified: None,
            alternate_id: None,
            description: None,
            storage: AssetStorage {
                path: "assets/../../etc".into(),
                tracks: serde_json::Value::Null,
            },
        };
        assert_eq!(a.validate().unwrap_err().field, "storage.path");
    }
}
