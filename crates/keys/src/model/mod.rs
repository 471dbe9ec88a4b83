//! The castguard data model: assets, content keys, content key policies,
//! streaming policies, streaming locators, live events and live outputs.
//!
//! Why this shape: operators of a multi-DRM service already know the cloud
//! media-service v3 REST model (Azure Media Services `2023-01-01`,
//! `Microsoft.Media` resource provider). Every entity here serialises to the
//! JSON of that model's `properties` object, in camelCase, with polymorphic
//! parts tagged by `"@odata.type": "#Microsoft.Media.…"`, and the resource name
//! added as a top-level `name`. A policy written for that service parses here.
//!
//! Deviations, each marked at its field:
//! - castguard extensions: `licenseServerUrl`, `licenseServerHeaders` and
//!   `vendor` on the Widevine, PlayReady and FairPlay configurations
//!   (castguard proxies license challenges to an upstream DRM license
//!   server, with the vendor's authorization message);
//! - a token restriction may name an OpenID Connect discovery document instead
//!   of a primary verification key;
//! - FairPlay `ask`/`fairPlayPfx`/`fairPlayPfxPassword` may be left out when an
//!   upstream license server is configured;
//! - `download` and `smoothStreaming` protocols are refused: castguard serves
//!   DASH and HLS only, and says so instead of ignoring them.
//!
//! Secrets: a content key value is never part of [`ContentKey`]; it travels in
//! [`ContentKeyWithValue`] only, for callers that ask for it on purpose. Token
//! verification keys and FairPlay credentials are [`SecretBytes`] /
//! [`SecretString`], whose `Debug` is redacted;
//! [`ContentKeyPolicy::without_secrets`] blanks them for responses that must
//! not carry them.
//!
//! Validation ([`Validate`]) is separate from parsing: serde refuses unknown
//! `@odata.type` and enum values while parsing ([`from_json`] reports the JSON
//! path), and `validate` checks the rest (names, lengths, ranges, URLs),
//! naming the field like `options[0].restriction.issuer`.

mod asset;
mod content_key;
mod content_key_policy;
pub mod fields;
mod live;
mod secret;
mod streaming_locator;
mod streaming_policy;
mod validate;
mod vendor;
mod widevine_template;

pub use asset::{Asset, AssetStorage};
pub use content_key::{
    ContentKey, ContentKeyInput, ContentKeyType, ContentKeyValue, ContentKeyWithValue,
};
pub use content_key_policy::{
    ContentKeyPolicy, ContentKeyPolicyConfiguration, ContentKeyPolicyOption,
    ContentKeyPolicyRestriction, FairPlayConfiguration, FairPlayOfflineRentalConfiguration,
    FairPlayRentalAndLeaseKeyType, LicenseServerHeaders, PlayReadyConfiguration,
    PlayReadyContentKeyLocation, PlayReadyContentType,
    PlayReadyExplicitAnalogTelevisionRestriction, PlayReadyLicense, PlayReadyLicenseType,
    PlayReadyPlayRight, PlayReadySecurityLevel, PlayReadyUnknownOutputPassingOption, RsaTokenKey,
    SymmetricTokenKey, TokenClaim, TokenKey, TokenRestriction, TokenType, WidevineConfiguration,
    X509CertificateTokenKey,
};
pub use live::{
    LiveEvent, LiveEventBasicAuth, LiveEventEndpoint, LiveEventInput, LiveEventInputProtocol,
    LiveEventResourceState, LiveOutput, iso8601_duration_secs, valid_access_token,
};
pub use secret::{SecretBytes, SecretString};
pub use streaming_locator::{
    KeyRotation, MAX_PERIOD_SECONDS, MAX_PERIOD_SEGMENTS, PERIOD_KEY_PREFIX, StreamingLocator,
    StreamingLocatorContentKey, StreamingLocatorContentKeyType,
};
pub use streaming_policy::{
    CbcsDrmConfiguration, CencDrmConfiguration, ClearKeyEncryptionConfiguration,
    CommonEncryptionCbcs, CommonEncryptionCenc, DefaultKey, EnabledProtocols, EnvelopeEncryption,
    NoEncryption, PREDEFINED_CLEAR_KEY, PREDEFINED_CLEAR_STREAMING_ONLY,
    PREDEFINED_MULTI_DRM_CENC_STREAMING, PREDEFINED_MULTI_DRM_STREAMING, StreamingPolicy,
    StreamingPolicyContentKey, StreamingPolicyContentKeys, StreamingPolicyFairPlayConfiguration,
    StreamingPolicyPlayReadyConfiguration, StreamingPolicyWidevineConfiguration, TRACK_CLASSES,
    TrackPropertyCompareOperation, TrackPropertyCondition, TrackPropertyType, TrackSelection,
    predefined_streaming_policies, predefined_streaming_policy,
};
pub use vendor::{
    AxinomVendor, DrmTodayVendor, GenericFormat, GenericVendor, LicenseVendor, PallyConVendor,
};
pub use widevine_template::{
    Hdcp, WidevineAllowedTrackTypes, WidevineContentKeySpec, WidevineOutputProtection,
    WidevinePolicyOverrides, WidevineTemplate, WidevineTrackType,
};
pub use validate::{MAX_NAME_LEN, Problem, Validate, ValidationError, validate_name};

use serde::de::DeserializeOwned;

/// A JSON document that did not parse into a model type.
///
/// `path` is where serde stopped (`options[0].restriction`); `message` is
/// serde's reason. Model types never put secret bytes into such messages:
/// their deserializers report lengths and kinds, not values.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JsonError {
    /// JSON path of the offending value, `.` for the document itself.
    pub path: String,
    /// What serde found wrong there.
    pub message: String,
}

/// Parses one model type from JSON and reports the JSON path of the first
/// error (an unknown `@odata.type`, a missing required field, a bad UUID...).
pub fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, JsonError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| JsonError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Parses and validates in one step: the usual entry point for a request body.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid JSON at {0}")]
    Json(#[from] JsonError),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// [`from_json`] followed by [`Validate::validate`].
pub fn parse_valid<T: DeserializeOwned + Validate>(json: &str) -> Result<T, ModelError> {
    let value: T = from_json(json)?;
    value.validate()?;
    Ok(value)
}

/// RFC 3339 (de)serialization of optional timestamps, as the v3 model writes them
/// (`2018-08-08T18:29:31.7715696Z`).
pub(crate) mod rfc3339_opt {
    pub use time::serde::rfc3339::option::{deserialize, serialize};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_json_names_the_path_of_an_unknown_odata_type() {
        let json = r##"{"name":"p","options":[{"configuration":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
            "restriction":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyMagicRestriction"}}]}"##;
        let err = from_json::<ContentKeyPolicy>(json).unwrap_err();
        assert_eq!(err.path, "options[0].restriction.@odata.type");
        assert!(err.message.contains("unknown variant"), "{err}");
    }

    #[test]
    fn parse_valid_runs_validation() {
        let json = r#"{"name":"bad name","keyId":"10000000-1000-1000-1000-100000000000","type":"CommonEncryption"}"#;
        match parse_valid::<ContentKey>(json) {
            Err(ModelError::Invalid(e)) => assert_eq!(e.field, "name"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
}
