//! Streaming policies: which protocols are served with which protection.
//!
//! v3 `StreamingPolicyProperties`: up to four schemes — `noEncryption`,
//! `envelopeEncryption` (HLS AES-128), `commonEncryptionCenc` (ISO/IEC
//! 23001-7 `cenc`: Widevine, PlayReady, Clear Key) and `commonEncryptionCbcs`
//! (`cbcs`: FairPlay, Widevine, PlayReady, Clear Key) — each with its enabled
//! protocols, clear tracks, content key labels and DRM license acquisition
//! URL templates. The four predefined policies castguard offers keep their v3
//! names so existing clients can name them.
//!
//! castguard serves DASH and HLS; a policy that enables `download` or
//! `smoothStreaming` is refused rather than half served.

use super::rfc3339_opt;
use super::validate::{
    Problem, Validate, ValidationError, nested, validate_name, validate_opt_name,
    validate_opt_text, validate_opt_url,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub const PREDEFINED_CLEAR_STREAMING_ONLY: &str = "Predefined_ClearStreamingOnly";
pub const PREDEFINED_CLEAR_KEY: &str = "Predefined_ClearKey";
pub const PREDEFINED_MULTI_DRM_CENC_STREAMING: &str = "Predefined_MultiDrmCencStreaming";
pub const PREDEFINED_MULTI_DRM_STREAMING: &str = "Predefined_MultiDrmStreaming";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPolicy {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub created: Option<OffsetDateTime>,
    /// Content key policy for keys that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_content_key_policy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_encryption: Option<EnvelopeEncryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_encryption_cenc: Option<CommonEncryptionCenc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_encryption_cbcs: Option<CommonEncryptionCbcs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_encryption: Option<NoEncryption>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnabledProtocols {
    #[serde(default)]
    pub download: bool,
    #[serde(default)]
    pub dash: bool,
    #[serde(default)]
    pub hls: bool,
    #[serde(default)]
    pub smooth_streaming: bool,
}

impl EnabledProtocols {
    /// DASH and HLS, what castguard serves.
    pub const DASH_HLS: EnabledProtocols = EnabledProtocols {
        download: false,
        dash: true,
        hls: true,
        smooth_streaming: false,
    };
    pub const DASH: EnabledProtocols = EnabledProtocols {
        download: false,
        dash: true,
        hls: false,
        smooth_streaming: false,
    };
    pub const HLS: EnabledProtocols = EnabledProtocols {
        download: false,
        dash: false,
        hls: true,
        smooth_streaming: false,
    };
}

impl Validate for EnabledProtocols {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.download {
            return Err(ValidationError::new(
                "download",
                Problem::Unsupported("castguard serves DASH and HLS only"),
            ));
        }
        if self.smooth_streaming {
            return Err(ValidationError::new(
                "smoothStreaming",
                Problem::Unsupported("castguard serves DASH and HLS only"),
            ));
        }
        if !self.dash && !self.hls {
            return Err(ValidationError::new(
                "",
                Problem::Invalid("enables no protocol (set dash or hls)"),
            ));
        }
        Ok(())
    }
}

/// What a track condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackPropertyType {
    Unknown,
    /// The track's sample entry type (v3): `avc1`, `hvc1`, `mp4a`, ...
    FourCC,
    /// castguard's extension (not in v3): the track's key class, one of
    /// [`TRACK_CLASSES`] — `AUDIO`, or by pixel count `SD` (up to
    /// 1024x576), `HD` (up to 1920x1080), `UHD1` (up to 4096x2160), `UHD2`,
    /// as the SPEKE v2 / CPIX presets name them (see `media::track_class`).
    TrackClass,
}

/// The values of a [`TrackPropertyType::TrackClass`] condition.
pub const TRACK_CLASSES: [&str; 5] = ["AUDIO", "SD", "HD", "UHD1", "UHD2"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackPropertyCompareOperation {
    Unknown,
    Equal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackPropertyCondition {
    pub property: TrackPropertyType,
    pub operation: TrackPropertyCompareOperation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackSelection {
    #[serde(default)]
    pub track_selections: Vec<TrackPropertyCondition>,
}

impl Validate for TrackSelection {
    fn validate(&self) -> Result<(), ValidationError> {
        // No condition would select every track: a key mapping that meant
        // "HD" must not silently take the audio and SD tracks too.
        if self.track_selections.is_empty() {
            return Err(ValidationError::new("trackSelections", Problem::Empty));
        }
        if self.track_selections.len() > 16 {
            return Err(ValidationError::new(
                "trackSelections",
                Problem::TooMany { max: 16 },
            ));
        }
        for (i, c) in self.track_selections.iter().enumerate() {
            let f = format!("trackSelections[{i}]");
            if c.property == TrackPropertyType::Unknown {
                return Err(ValidationError::new(
                    format!("{f}.property"),
                    Problem::Unsupported("Unknown"),
                ));
            }
            if c.operation == TrackPropertyCompareOperation::Unknown {
                return Err(ValidationError::new(
                    format!("{f}.operation"),
                    Problem::Unsupported("Unknown"),
                ));
            }
            let Some(v) = &c.value else {
                return Err(ValidationError::new(
                    format!("{f}.value"),
                    Problem::Required,
                ));
            };
            let ok = match c.property {
                TrackPropertyType::TrackClass => TRACK_CLASSES.contains(&v.as_str()),
                _ => v.len() == 4 && v.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
            };
            if !ok {
                let problem = match c.property {
                    TrackPropertyType::TrackClass => {
                        Problem::Invalid("must be one of AUDIO, SD, HD, UHD1, UHD2")
                    }
                    _ => Problem::Invalid("must be a four-character code"),
                };
                return Err(ValidationError::new(format!("{f}.value"), problem));
            }
        }
        Ok(())
    }
}

fn validate_tracks(field: &str, tracks: &[TrackSelection]) -> Result<(), ValidationError> {
    if tracks.len() > 16 {
        return Err(ValidationError::new(field, Problem::TooMany { max: 16 }));
    }
    for (i, t) in tracks.iter().enumerate() {
        nested(&format!("{field}[{i}]"), t.validate())?;
    }
    Ok(())
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
}

/// One entry of `keyToTrackMappings`: the tracks any of `tracks` selects
/// (each an AND of its `trackSelections`) are encrypted with the locator
/// content key whose `labelReferenceInStreamingPolicy` (or, failing that,
/// the content key's own `label`) is `label`; `policyName` authorises that
/// key when it names no policy of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPolicyContentKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(default)]
    pub tracks: Vec<TrackSelection>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPolicyContentKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_key: Option<DefaultKey>,
    #[serde(default)]
    pub key_to_track_mappings: Vec<StreamingPolicyContentKey>,
}

impl Validate for StreamingPolicyContentKeys {
    fn validate(&self) -> Result<(), ValidationError> {
        if let Some(d) = &self.default_key {
            validate_opt_text("defaultKey.label", d.label.as_deref(), 260)?;
            validate_opt_name("defaultKey.policyName", d.policy_name.as_deref())?;
        }
        if self.key_to_track_mappings.len() > 16 {
            return Err(ValidationError::new(
                "keyToTrackMappings",
                Problem::TooMany { max: 16 },
            ));
        }
        for (i, m) in self.key_to_track_mappings.iter().enumerate() {
            let f = format!("keyToTrackMappings[{i}]");
            // The label names the locator's key for the selected tracks;
            // without one the mapping could only fall back to the default key.
            if m.label.is_none() {
                return Err(ValidationError::new(format!("{f}.label"), Problem::Required));
            }
            validate_opt_text(&format!("{f}.label"), m.label.as_deref(), 260)?;
            validate_opt_name(&format!("{f}.policyName"), m.policy_name.as_deref())?;
            validate_tracks(&format!("{f}.tracks"), &m.tracks)?;
        }
        Ok(())
    }
}

impl StreamingPolicyContentKeys {
    fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.default_key
            .iter()
            .filter_map(|d| d.policy_name.as_deref())
            .chain(
                self.key_to_track_mappings
                    .iter()
                    .filter_map(|m| m.policy_name.as_deref()),
            )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPolicyPlayReadyConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_license_acquisition_url_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_ready_custom_attributes: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPolicyWidevineConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_license_acquisition_url_template: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingPolicyFairPlayConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_license_acquisition_url_template: Option<String>,
    #[serde(default)]
    pub allow_persistent_license: bool,
}

/// Clear Key (W3C EME `org.w3.clearkey`) for a common-encryption scheme.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearKeyEncryptionConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_keys_acquisition_url_template: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CencDrmConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_ready: Option<StreamingPolicyPlayReadyConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widevine: Option<StreamingPolicyWidevineConfiguration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CbcsDrmConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_play: Option<StreamingPolicyFairPlayConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_ready: Option<StreamingPolicyPlayReadyConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widevine: Option<StreamingPolicyWidevineConfiguration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoEncryption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_protocols: Option<EnabledProtocols>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeEncryption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_protocols: Option<EnabledProtocols>,
    #[serde(default)]
    pub clear_tracks: Vec<TrackSelection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_keys: Option<StreamingPolicyContentKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_acquisition_url_template: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommonEncryptionCenc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_protocols: Option<EnabledProtocols>,
    #[serde(default)]
    pub clear_tracks: Vec<TrackSelection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_keys: Option<StreamingPolicyContentKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drm: Option<CencDrmConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_key_encryption_configuration: Option<ClearKeyEncryptionConfiguration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommonEncryptionCbcs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_protocols: Option<EnabledProtocols>,
    #[serde(default)]
    pub clear_tracks: Vec<TrackSelection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_keys: Option<StreamingPolicyContentKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drm: Option<CbcsDrmConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_key_encryption_configuration: Option<ClearKeyEncryptionConfiguration>,
}

fn validate_scheme_common(
    protocols: Option<&EnabledProtocols>,
    clear_tracks: &[TrackSelection],
    keys: Option<&StreamingPolicyContentKeys>,
) -> Result<(), ValidationError> {
    if let Some(p) = protocols {
        nested("enabledProtocols", p.validate())?;
    }
    validate_tracks("clearTracks", clear_tracks)?;
    if let Some(k) = keys {
        nested("contentKeys", k.validate())?;
    }
    Ok(())
}

fn validate_drm_url(field: &str, url: Option<&str>) -> Result<(), ValidationError> {
    validate_opt_url(field, url)
}

impl Validate for StreamingPolicy {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_name("name", &self.name)?;
        validate_opt_name(
            "defaultContentKeyPolicyName",
            self.default_content_key_policy_name.as_deref(),
        )?;
        if self.envelope_encryption.is_none()
            && self.common_encryption_cenc.is_none()
            && self.common_encryption_cbcs.is_none()
            && self.no_encryption.is_none()
        {
            return Err(ValidationError::new(
                "",
                Problem::Invalid(
                    "a streaming policy needs one of noEncryption, envelopeEncryption, commonEncryptionCenc, commonEncryptionCbcs",
                ),
            ));
        }
        if let Some(n) = &self.no_encryption {
            if self.envelope_encryption.is_some()
                || self.common_encryption_cenc.is_some()
                || self.common_encryption_cbcs.is_some()
            {
                return Err(ValidationError::new(
                    "noEncryption",
                    Problem::Invalid(
                        "cannot be combined with an encryption scheme (it would serve the content in clear)",
                    ),
                ));
            }
            if let Some(p) = &n.enabled_protocols {
                nested("noEncryption.enabledProtocols", p.validate())?;
            }
        }
        if let Some(e) = &self.envelope_encryption {
            nested(
                "envelopeEncryption",
                validate_scheme_common(
                    e.enabled_protocols.as_ref(),
                    &e.clear_tracks,
                    e.content_keys.as_ref(),
                ),
            )?;
            validate_drm_url(
                "envelopeEncryption.customKeyAcquisitionUrlTemplate",
                e.custom_key_acquisition_url_template.as_deref(),
            )?;
        }
        if let Some(c) = &self.common_encryption_cenc {
            nested(
                "commonEncryptionCenc",
                validate_scheme_common(
                    c.enabled_protocols.as_ref(),
                    &c.clear_tracks,
                    c.content_keys.as_ref(),
                ),
            )?;
            if let Some(d) = &c.drm {
                if let Some(pr) = &d.play_ready {
                    validate_drm_url(
                        "commonEncryptionCenc.drm.playReady.customLicenseAcquisitionUrlTemplate",
                        pr.custom_license_acquisition_url_template.as_deref(),
                    )?;
                    validate_opt_text(
                        "commonEncryptionCenc.drm.playReady.playReadyCustomAttributes",
                        pr.play_ready_custom_attributes.as_deref(),
                        1024,
                    )?;
                }
                if let Some(wv) = &d.widevine {
                    validate_drm_url(
                        "commonEncryptionCenc.drm.widevine.customLicenseAcquisitionUrlTemplate",
                        wv.custom_license_acquisition_url_template.as_deref(),
                    )?;
                }
            }
            if let Some(ck) = &c.clear_key_encryption_configuration {
                validate_drm_url(
                    "commonEncryptionCenc.clearKeyEncryptionConfiguration.customKeysAcquisitionUrlTemplate",
                    ck.custom_keys_acquisition_url_template.as_deref(),
                )?;
            }
        }
        if let Some(c) = &self.common_encryption_cbcs {
            nested(
                "commonEncryptionCbcs",
                validate_scheme_common(
                    c.enabled_protocols.as_ref(),
                    &c.clear_tracks,
                    c.content_keys.as_ref(),
                ),
            )?;
            if let Some(d) = &c.drm {
                if let Some(fp) = &d.fair_play {
                    validate_drm_url(
                        "commonEncryptionCbcs.drm.fairPlay.customLicenseAcquisitionUrlTemplate",
                        fp.custom_license_acquisition_url_template.as_deref(),
                    )?;
                }
                if let Some(pr) = &d.play_ready {
                    validate_drm_url(
                        "commonEncryptionCbcs.drm.playReady.customLicenseAcquisitionUrlTemplate",
                        pr.custom_license_acquisition_url_template.as_deref(),
                    )?;
                    validate_opt_text(
                        "commonEncryptionCbcs.drm.playReady.playReadyCustomAttributes",
                        pr.play_ready_custom_attributes.as_deref(),
                        1024,
                    )?;
                }
                if let Some(wv) = &d.widevine {
                    validate_drm_url(
                        "commonEncryptionCbcs.drm.widevine.customLicenseAcquisitionUrlTemplate",
                        wv.custom_license_acquisition_url_template.as_deref(),
                    )?;
                }
            }
            if let Some(ck) = &c.clear_key_encryption_configuration {
                validate_drm_url(
                    "commonEncryptionCbcs.clearKeyEncryptionConfiguration.customKeysAcquisitionUrlTemplate",
                    ck.custom_keys_acquisition_url_template.as_deref(),
                )?;
            }
        }
        Ok(())
    }
}

impl StreamingPolicy {
    /// Every content key policy this streaming policy names (default and
    /// per-key), for reference checks.
    pub fn referenced_content_key_policies(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .default_content_key_policy_name
            .as_deref()
            .into_iter()
            .collect();
        let keys = [
            self.envelope_encryption
                .as_ref()
                .and_then(|e| e.content_keys.as_ref()),
            self.common_encryption_cenc
                .as_ref()
                .and_then(|e| e.content_keys.as_ref()),
            self.common_encryption_cbcs
                .as_ref()
                .and_then(|e| e.content_keys.as_ref()),
        ];
        for k in keys.into_iter().flatten() {
            v.extend(k.policy_names());
        }
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether the name is one of the four predefined policies.
    pub fn is_predefined_name(name: &str) -> bool {
        predefined_streaming_policy(name).is_some()
    }
}

/// The predefined streaming policy of that name, if any.
pub fn predefined_streaming_policy(name: &str) -> Option<StreamingPolicy> {
    predefined_streaming_policies()
        .into_iter()
        .find(|p| p.name == name)
}

/// The four predefined streaming policies (v3 names, castguard protocols):
/// - `Predefined_ClearStreamingOnly`: DASH and HLS in clear;
/// - `Predefined_ClearKey`: HLS AES-128 envelope encryption (DASH + HLS as in
///   v3; DASH players fetch the same key);
/// - `Predefined_MultiDrmCencStreaming`: `cenc` with Widevine and PlayReady, DASH and HLS;
/// - `Predefined_MultiDrmStreaming`: `cenc` (Widevine, PlayReady) for DASH plus
///   `cbcs` (FairPlay) for HLS.
pub fn predefined_streaming_policies() -> Vec<StreamingPolicy> {
    let empty = |name: &str| StreamingPolicy {
        name: name.to_string(),
        created: None,
        default_content_key_policy_name: None,
        envelope_encryption: None,
        common_encryption_cenc: None,
        common_encryption_cbcs: None,
        no_encryption: None,
    };
    let cenc_drm = CencDrmConfiguration {
        play_ready: Some(StreamingPolicyPlayReadyConfiguration::default()),
        widevine: Some(StreamingPolicyWidevineConfiguration::default()),
    };
    vec![
        StreamingPolicy {
            no_encryption: Some(NoEncryption {
                enabled_protocols: Some(EnabledProtocols::DASH_HLS),
            }),
            ..empty(PREDEFINED_CLEAR_STREAMING_ONLY)
        },
        StreamingPolicy {
            envelope_encryption: Some(EnvelopeEncryption {
                enabled_protocols: Some(EnabledProtocols::DASH_HLS),
                ..Default::default()
            }),
            ..empty(PREDEFINED_CLEAR_KEY)
        },
        StreamingPolicy {
            common_encryption_cenc: Some(CommonEncryptionCenc {
                enabled_protocols: Some(EnabledProtocols::DASH_HLS),
                drm: Some(cenc_drm.clone()),
                ..Default::default()
            }),
            ..empty(PREDEFINED_MULTI_DRM_CENC_STREAMING)
        },
        StreamingPolicy {
            common_encryption_cenc: Some(CommonEncryptionCenc {
                enabled_protocols: Some(EnabledProtocols::DASH),
                drm: Some(cenc_drm),
                ..Default::default()
            }),
            common_encryption_cbcs: Some(CommonEncryptionCbcs {
                enabled_protocols: Some(EnabledProtocols::HLS),
                drm: Some(CbcsDrmConfiguration {
                    fair_play: Some(StreamingPolicyFairPlayConfiguration::default()),
                    play_ready: None,
                    widevine: None,
                }),
                ..Default::default()
            }),
            ..empty(PREDEFINED_MULTI_DRM_STREAMING)
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{from_json, parse_valid};

    /// The v3 "secure streaming" example, with castguard's protocols.
    const SECURE: &str = r#"{
      "name": "UserCreatedSecureStreamingPolicy",
      "created": "2018-08-08T18:29:31.7715696Z",
      "defaultContentKeyPolicyName": "PolicyWithMultipleOptions",
      "commonEncryptionCbcs": {
        "clearTracks": [],
        "contentKeys": {"defaultKey": {"label": "cbcsDefaultKey"}, "keyToTrackMappings": []},
        "drm": {"fairPlay": {"allowPersistentLicense": true,
                 "customLicenseAcquisitionUrlTemplate": "https://contoso.com/{AssetAlternativeId}/fairplay/{ContentKeyId}"}},
        "enabledProtocols": {"dash": false, "download": false, "hls": true, "smoothStreaming": false}
      },
      "commonEncryptionCenc": {
        "clearTracks": [{"trackSelections": [{"operation": "Equal", "property": "FourCC", "value": "hev1"}]}],
        "contentKeys": {"defaultKey": {"label": "cencDefaultKey"}, "keyToTrackMappings": []},
        "drm": {
          "playReady": {"customLicenseAcquisitionUrlTemplate": "https://contoso.com/{AssetAlternativeId}/playready/{ContentKeyId}",
                        "playReadyCustomAttributes": "PlayReady CustomAttributes"},
          "widevine": {"customLicenseAcquisitionUrlTemplate": "https://contoso.com/{AssetAlternativeId}/widevine/{ContentKeyId}"}
        },
        "enabledProtocols": {"dash": true, "download": false, "hls": false, "smoothStreaming": false}
      },
      "envelopeEncryption": {
        "clearTracks": [],
        "contentKeys": {"defaultKey": {"label": "aesDefaultKey", "policyName": "AesPolicy"}, "keyToTrackMappings": []},
        "customKeyAcquisitionUrlTemplate": "https://contoso.com/{AssetAlternativeId}/envelope/{ContentKeyId}",
        "enabledProtocols": {"dash": true, "download": false, "hls": true, "smoothStreaming": false}
      }
    }"#;

    #[test]
    fn v3_secure_streaming_round_trip() {
        let p: StreamingPolicy = parse_valid(SECURE).unwrap();
        assert_eq!(
            p.common_encryption_cenc.as_ref().unwrap().clear_tracks[0].track_selections[0]
                .value
                .as_deref(),
            Some("hev1")
        );
        let original: serde_json::Value = serde_json::from_str(SECURE).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), original);
        assert_eq!(
            p.referenced_content_key_policies(),
            vec!["AesPolicy", "PolicyWithMultipleOptions"]
        );
    }

    #[test]
    fn smooth_streaming_refused_by_name() {
        let s = SECURE.replacen(
            r#""hls": true, "smoothStreaming": false"#,
            r#""hls": true, "smoothStreaming": true"#,
            1,
        );
        let e = from_json::<StreamingPolicy>(&s)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(
            e.field,
            "commonEncryptionCbcs.enabledProtocols.smoothStreaming"
        );
    }

    #[test]
    fn unknown_track_property_rejected() {
        let s = SECURE.replace(r#""property": "FourCC""#, r#""property": "Bitrate""#);
        assert_eq!(
            from_json::<StreamingPolicy>(&s).unwrap_err().path,
            "commonEncryptionCenc.clearTracks[0].trackSelections[0].property"
        );
    }

    #[test]
    fn predefined_are_valid_and_distinct() {
        let all = predefined_streaming_policies();
        assert_eq!(all.len(), 4);
        for p in &all {
            p.validate().unwrap();
            assert!(StreamingPolicy::is_predefined_name(&p.name));
        }
        let mdrm = predefined_streaming_policy(PREDEFINED_MULTI_DRM_STREAMING).unwrap();
        assert!(
            mdrm.common_encryption_cbcs
                .unwrap()
                .drm
                .unwrap()
                .fair_play
                .is_some()
        );
        assert!(!StreamingPolicy::is_predefined_name("Predefined_Other"));
        assert_eq!(
            serde_json::to_value(
                predefined_streaming_policy(PREDEFINED_CLEAR_STREAMING_ONLY).unwrap()
            )
            .unwrap(),
            serde_json::json!({"name": "Predefined_ClearStreamingOnly",
                "noEncryption": {"enabledProtocols": {"download": false, "dash": true, "hls": true, "smoothStreaming": false}}})
        );
    }

    #[test]
    fn key_to_track_mappings_by_class() {
        let with = |mappings: &str| {
            SECURE.replacen(
                r#""contentKeys": {"defaultKey": {"label": "cencDefaultKey"}, "keyToTrackMappings": []}"#,
                &format!(
                    r#""contentKeys": {{"defaultKey": {{"label": "cencDefaultKey"}}, "keyToTrackMappings": {mappings}}}"#
                ),
                1,
            )
        };
        let sel = |property: &str, value: &str| {
            format!(r#"{{"property": "{property}", "operation": "Equal", "value": "{value}"}}"#)
        };
        let good = with(&format!(
            r#"[{{"label": "sd", "policyName": "P1", "tracks": [{{"trackSelections": [{}]}}, {{"trackSelections": [{}]}}]}},
                {{"label": "hd", "policyName": "P2", "tracks": [{{"trackSelections": [{}, {}]}}]}}]"#,
            sel("TrackClass", "SD"),
            sel("TrackClass", "AUDIO"),
            sel("TrackClass", "HD"),
            sel("FourCC", "avc1"),
        ));
        let p: StreamingPolicy = parse_valid(&good).unwrap();
        let m = &p.common_encryption_cenc.as_ref().unwrap().content_keys.as_ref().unwrap().key_to_track_mappings;
        assert_eq!(m[1].tracks[0].track_selections[0].property, TrackPropertyType::TrackClass);
        assert_eq!(
            p.referenced_content_key_policies(),
            vec!["AesPolicy", "P1", "P2", "PolicyWithMultipleOptions"]
        );
        // Round trip keeps the extension's name.
        assert!(serde_json::to_string(&p).unwrap().contains(r#""property":"TrackClass","operation":"Equal","value":"HD""#));

        let err = |mappings: String| {
            let p = from_json::<StreamingPolicy>(&with(&mappings)).unwrap();
            p.validate().unwrap_err().field
        };
        for bad in ["hd", "UHD", "4K", "", "video"] {
            assert_eq!(
                err(format!(r#"[{{"label": "x", "tracks": [{{"trackSelections": [{}]}}]}}]"#, sel("TrackClass", bad))),
                "commonEncryptionCenc.contentKeys.keyToTrackMappings[0].tracks[0].trackSelections[0].value"
            );
        }
        assert_eq!(
            err(format!(r#"[{{"label": "x", "tracks": [{{"trackSelections": [{}]}}]}}]"#, sel("FourCC", "SD"))),
            "commonEncryptionCenc.contentKeys.keyToTrackMappings[0].tracks[0].trackSelections[0].value"
        );
        assert_eq!(
            err(format!(r#"[{{"tracks": [{{"trackSelections": [{}]}}]}}]"#, sel("TrackClass", "HD"))),
            "commonEncryptionCenc.contentKeys.keyToTrackMappings[0].label"
        );
        assert_eq!(
            err(r#"[{"label": "x", "tracks": [{"trackSelections": []}]}]"#.into()),
            "commonEncryptionCenc.contentKeys.keyToTrackMappings[0].tracks[0].trackSelections"
        );
    }

    #[test]
    fn clear_plus_encrypted_refused() {
        let mut p = predefined_streaming_policy(PREDEFINED_CLEAR_KEY).unwrap();
        p.no_encryption = Some(NoEncryption::default());
        assert_eq!(p.validate().unwrap_err().field, "noEncryption");
    }
}
