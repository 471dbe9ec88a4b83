//! Content key policies: who may receive a key, and in which license format.
//!
//! A policy is a named list of options; an option pairs a configuration (what
//! to deliver: Clear Key / AES-128 key, Widevine, PlayReady or FairPlay
//! license) with a restriction (open, or a token that must satisfy issuer,
//! audience, signature and claims). A request is served by the first option
//! whose restriction it satisfies (DESIGN.md, "Data model").
//!
//! JSON follows the v3 `ContentKeyPolicyProperties` model: polymorphic parts
//! are tagged `"@odata.type": "#Microsoft.Media.ContentKeyPolicy…"`, and an
//! unknown tag is a parse error naming its path. castguard extensions:
//! `licenseServerUrl` / `licenseServerHeaders` on DRM configurations (the
//! upstream license server castguard proxies challenges to), and a token
//! restriction may rely on `openIdConnectDiscoveryDocument` alone.

use super::rfc3339_opt;
use super::vendor::LicenseVendor;
use super::widevine_template::WidevineTemplate;
use super::secret::{SecretBytes, SecretString, b64_bytes};
use super::validate::{
    MAX_TEXT_LEN, Problem, Validate, ValidationError, nested, validate_iso_duration, validate_name,
    validate_opt_text, validate_opt_url, validate_range, validate_text,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// Most options in one policy (bounds the work of evaluating a request).
pub const MAX_OPTIONS: usize = 32;
/// Most verification keys or required claims in one token restriction.
pub const MAX_TOKEN_KEYS: usize = 16;
/// Shortest symmetric token key accepted (HMAC-SHA256 with fewer than 128
/// bits of key is guessable offline from one token).
pub const MIN_SYMMETRIC_KEY_LEN: usize = 16;
/// Shortest RSA modulus accepted, in bytes (2048 bits).
pub const MIN_RSA_MODULUS_LEN: usize = 256;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentKeyPolicy {
    pub name: String,
    /// Server-assigned; the store sets it on creation when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub created: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub last_modified: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub options: Vec<ContentKeyPolicyOption>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentKeyPolicyOption {
    /// Server-assigned; the store sets it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_option_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub configuration: ContentKeyPolicyConfiguration,
    pub restriction: ContentKeyPolicyRestriction,
}

/// What is delivered when the restriction is met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type")]
pub enum ContentKeyPolicyConfiguration {
    /// The raw key: HLS AES-128 key bytes or a W3C Clear Key JSON Web Key Set.
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration")]
    ClearKey,
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyWidevineConfiguration")]
    Widevine(WidevineConfiguration),
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyPlayReadyConfiguration")]
    PlayReady(PlayReadyConfiguration),
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyFairPlayConfiguration")]
    FairPlay(FairPlayConfiguration),
    /// v3 returns this for configurations an API version cannot show; it
    /// parses, but cannot be stored (nothing could be delivered).
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyUnknownConfiguration")]
    Unknown,
}

/// Upstream request headers (e.g. an API key for the license provider).
/// `Debug` shows header names only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LicenseServerHeaders(pub BTreeMap<String, SecretString>);

impl LicenseServerHeaders {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for LicenseServerHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

fn validate_license_server(
    url: Option<&str>,
    headers: &LicenseServerHeaders,
    vendor: Option<&LicenseVendor>,
) -> Result<(), ValidationError> {
    validate_opt_url("licenseServerUrl", url)?;
    if let Some(v) = vendor {
        if url.is_none() {
            return Err(ValidationError::new(
                "vendor",
                Problem::Invalid("needs licenseServerUrl (the vendor's license server)"),
            ));
        }
        nested("vendor", v.validate())?;
    }
    if !headers.is_empty() && url.is_none() {
        return Err(ValidationError::new(
            "licenseServerHeaders",
            Problem::Invalid("needs licenseServerUrl"),
        ));
    }
    if headers.0.len() > 32 {
        return Err(ValidationError::new(
            "licenseServerHeaders",
            Problem::TooMany { max: 32 },
        ));
    }
    for (name, value) in &headers.0 {
        // RFC 9110 §5.1 field-name = token; values without CR/LF/NUL (no
        // header injection into the upstream request).
        let token = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(ValidationError::new(
                "licenseServerHeaders",
                Problem::InvalidCharacters {
                    allowed: "RFC 9110 token characters in header names",
                },
            ));
        }
        let v = value.expose();
        if v.len() > 8192 || v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ValidationError::new(
                format!("licenseServerHeaders.{name}"),
                Problem::Invalid("must be at most 8192 bytes without CR, LF or NUL"),
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WidevineConfiguration {
    /// The Widevine license template, a JSON document as a string (v3
    /// requires it; castguard makes it optional when proxying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widevine_template: Option<String>,
    /// castguard extension: upstream Widevine license server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_server_url: Option<String>,
    /// castguard extension: headers sent to the upstream server.
    #[serde(default, skip_serializing_if = "LicenseServerHeaders::is_empty")]
    pub license_server_headers: LicenseServerHeaders,
    /// castguard extension: the vendor behind `licenseServerUrl` and the
    /// secret its authorization message is signed with (issue 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<LicenseVendor>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayReadyConfiguration {
    #[serde(default)]
    pub licenses: Vec<PlayReadyLicense>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_custom_data: Option<String>,
    /// castguard extension: upstream PlayReady license server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_server_url: Option<String>,
    /// castguard extension: headers sent to the upstream server.
    #[serde(default, skip_serializing_if = "LicenseServerHeaders::is_empty")]
    pub license_server_headers: LicenseServerHeaders,
    /// castguard extension: the vendor behind `licenseServerUrl` and the
    /// secret its authorization message is signed with (issue 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<LicenseVendor>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlayReadySecurityLevel {
    Unknown,
    SL150,
    SL2000,
    SL3000,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlayReadyLicenseType {
    Unknown,
    NonPersistent,
    Persistent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlayReadyContentType {
    Unknown,
    Unspecified,
    UltraVioletDownload,
    UltraVioletStreaming,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlayReadyUnknownOutputPassingOption {
    Unknown,
    NotAllowed,
    Allowed,
    AllowedWithVideoConstriction,
}

/// Where the PlayReady license finds the KID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "@odata.type")]
pub enum PlayReadyContentKeyLocation {
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyPlayReadyContentEncryptionKeyFromHeader")]
    FromHeader,
    #[serde(
        rename = "#Microsoft.Media.ContentKeyPolicyPlayReadyContentEncryptionKeyFromKeyIdentifier"
    )]
    FromKeyIdentifier {
        #[serde(rename = "keyId")]
        key_id: Uuid,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayReadyLicense {
    pub allow_test_devices: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<PlayReadySecurityLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub begin_date: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub expiration_date: Option<OffsetDateTime>,
    /// ISO 8601 duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_begin_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_expiration_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_right: Option<PlayReadyPlayRight>,
    pub license_type: PlayReadyLicenseType,
    pub content_key_location: PlayReadyContentKeyLocation,
    pub content_type: PlayReadyContentType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayReadyExplicitAnalogTelevisionRestriction {
    pub best_effort: bool,
    /// 0..=3.
    pub configuration_data: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayReadyPlayRight {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_play_expiration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scms_restriction: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agc_and_color_stripe_restriction: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_analog_television_output_restriction:
        Option<PlayReadyExplicitAnalogTelevisionRestriction>,
    pub digital_video_only_content_restriction: bool,
    pub image_constraint_for_analog_component_video_restriction: bool,
    pub image_constraint_for_analog_computer_monitor_restriction: bool,
    pub allow_passing_video_content_to_unknown_output: PlayReadyUnknownOutputPassingOption,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncompressed_digital_video_opl: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_digital_video_opl: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analog_video_opl: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_digital_audio_opl: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncompressed_digital_audio_opl: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FairPlayRentalAndLeaseKeyType {
    Unknown,
    Undefined,
    DualExpiry,
    PersistentUnlimited,
    PersistentLimited,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FairPlayOfflineRentalConfiguration {
    pub playback_duration_seconds: i64,
    pub storage_duration_seconds: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FairPlayConfiguration {
    /// Application Secret key (16 bytes). Required unless proxying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<SecretBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_play_pfx_password: Option<SecretString>,
    /// Base64 PKCS #12 with the FairPlay certificate and private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_play_pfx: Option<SecretString>,
    pub rental_and_lease_key_type: FairPlayRentalAndLeaseKeyType,
    pub rental_duration: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_rental_configuration: Option<FairPlayOfflineRentalConfiguration>,
    /// castguard extension: upstream FairPlay key server (KSM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_server_url: Option<String>,
    /// castguard extension: headers sent to the upstream server.
    #[serde(default, skip_serializing_if = "LicenseServerHeaders::is_empty")]
    pub license_server_headers: LicenseServerHeaders,
    /// castguard extension: the vendor behind `licenseServerUrl` and the
    /// secret its authorization message is signed with (issue 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<LicenseVendor>,
}

/// Who may receive the key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type")]
pub enum ContentKeyPolicyRestriction {
    /// Anyone: the key or license is delivered on every request.
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyOpenRestriction")]
    Open,
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyTokenRestriction")]
    Token(TokenRestriction),
    /// Parses (v3 may return it) but cannot be stored: it would fail closed
    /// on every request.
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyUnknownRestriction")]
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    Unknown,
    /// Simple Web Token (form-encoded, HMAC-SHA256).
    Swt,
    /// JSON Web Token (RFC 7519).
    Jwt,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRestriction {
    pub issuer: String,
    pub audience: String,
    /// Required by v3; castguard accepts its absence when
    /// `openIdConnectDiscoveryDocument` gives the keys (JWKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_verification_key: Option<TokenKey>,
    #[serde(default)]
    pub alternate_verification_keys: Vec<TokenKey>,
    #[serde(default)]
    pub required_claims: Vec<TokenClaim>,
    pub restriction_token_type: TokenType,
    /// URL of an OpenID Connect discovery document whose `jwks_uri` lists
    /// the signing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_id_connect_discovery_document: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenClaim {
    #[serde(default)]
    pub claim_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_value: Option<String>,
}

/// A key that verifies token signatures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "@odata.type")]
pub enum TokenKey {
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey")]
    Symmetric(SymmetricTokenKey),
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyRsaTokenKey")]
    Rsa(RsaTokenKey),
    #[serde(rename = "#Microsoft.Media.ContentKeyPolicyX509CertificateTokenKey")]
    X509Certificate(X509CertificateTokenKey),
}

/// HMAC key (HS256/384/512 for JWT, HMAC-SHA256 for SWT). Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymmetricTokenKey {
    pub key_value: SecretBytes,
}

/// RSA public key, big-endian unsigned integers in base64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsaTokenKey {
    #[serde(with = "b64_bytes")]
    pub exponent: Vec<u8>,
    #[serde(with = "b64_bytes")]
    pub modulus: Vec<u8>,
}

/// An X.509 certificate (DER) whose public key verifies the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct X509CertificateTokenKey {
    #[serde(with = "b64_bytes")]
    pub raw_body: Vec<u8>,
}

impl ContentKeyPolicy {
    /// A copy with every secret blanked (symmetric token keys, FairPlay ASK,
    /// PFX and password, upstream header values), for responses that are not
    /// an explicit "get with secrets" (v3 `GetPolicyPropertiesWithSecrets`).
    pub fn without_secrets(&self) -> ContentKeyPolicy {
        let mut p = self.clone();
        for o in &mut p.options {
            match &mut o.configuration {
                ContentKeyPolicyConfiguration::Widevine(c) => {
                    blank_headers(&mut c.license_server_headers);
                    blank_vendor(&mut c.vendor);
                }
                ContentKeyPolicyConfiguration::PlayReady(c) => {
                    blank_headers(&mut c.license_server_headers);
                    blank_vendor(&mut c.vendor);
                }
                ContentKeyPolicyConfiguration::FairPlay(c) => {
                    c.ask = c.ask.as_ref().map(|_| SecretBytes::default());
                    c.fair_play_pfx = c.fair_play_pfx.as_ref().map(|_| SecretString::default());
                    c.fair_play_pfx_password = c
                        .fair_play_pfx_password
                        .as_ref()
                        .map(|_| SecretString::default());
                    blank_headers(&mut c.license_server_headers);
                    blank_vendor(&mut c.vendor);
                }
                ContentKeyPolicyConfiguration::ClearKey
                | ContentKeyPolicyConfiguration::Unknown => {}
            }
            if let ContentKeyPolicyRestriction::Token(t) = &mut o.restriction {
                for k in t
                    .primary_verification_key
                    .iter_mut()
                    .chain(t.alternate_verification_keys.iter_mut())
                {
                    if let TokenKey::Symmetric(s) = k {
                        s.key_value = SecretBytes::default();
                    }
                }
            }
        }
        p
    }
}

fn blank_vendor(v: &mut Option<LicenseVendor>) {
    if let Some(v) = v {
        v.blank_secrets();
    }
}

fn blank_headers(h: &mut LicenseServerHeaders) {
    for v in h.0.values_mut() {
        *v = SecretString::default();
    }
}

impl Validate for ContentKeyPolicy {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_name("name", &self.name)?;
        validate_opt_text("description", self.description.as_deref(), MAX_TEXT_LEN)?;
        if self.options.is_empty() {
            return Err(ValidationError::new("options", Problem::Empty));
        }
        if self.options.len() > MAX_OPTIONS {
            return Err(ValidationError::new(
                "options",
                Problem::TooMany { max: MAX_OPTIONS },
            ));
        }
        for (i, o) in self.options.iter().enumerate() {
            nested(&format!("options[{i}]"), o.validate())?;
        }
        Ok(())
    }
}

impl Validate for ContentKeyPolicyOption {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_opt_text("name", self.name.as_deref(), 260)?;
        nested("configuration", self.configuration.validate())?;
        nested("restriction", self.restriction.validate())
    }
}

impl Validate for ContentKeyPolicyConfiguration {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            ContentKeyPolicyConfiguration::ClearKey => Ok(()),
            ContentKeyPolicyConfiguration::Unknown => Err(ValidationError::new(
                "@odata.type",
                Problem::Unsupported("ContentKeyPolicyUnknownConfiguration cannot deliver keys"),
            )),
            ContentKeyPolicyConfiguration::Widevine(c) => {
                if let Some(t) = &c.widevine_template {
                    WidevineTemplate::parse(t)?;
                } else if c.license_server_url.is_none() {
                    return Err(ValidationError::new(
                        "widevineTemplate",
                        Problem::Invalid("is required unless licenseServerUrl is set"),
                    ));
                }
                validate_license_server(
                    c.license_server_url.as_deref(),
                    &c.license_server_headers,
                    c.vendor.as_ref(),
                )
            }
            ContentKeyPolicyConfiguration::PlayReady(c) => {
                if c.licenses.is_empty() && c.license_server_url.is_none() {
                    return Err(ValidationError::new(
                        "licenses",
                        Problem::Invalid(
                            "needs at least one license unless licenseServerUrl is set",
                        ),
                    ));
                }
                if c.licenses.len() > MAX_OPTIONS {
                    return Err(ValidationError::new(
                        "licenses",
                        Problem::TooMany { max: MAX_OPTIONS },
                    ));
                }
                for (i, l) in c.licenses.iter().enumerate() {
                    nested(&format!("licenses[{i}]"), l.validate())?;
                }
                validate_opt_text(
                    "responseCustomData",
                    c.response_custom_data.as_deref(),
                    MAX_TEXT_LEN,
                )?;
                validate_license_server(
                    c.license_server_url.as_deref(),
                    &c.license_server_headers,
                    c.vendor.as_ref(),
                )
            }
            ContentKeyPolicyConfiguration::FairPlay(c) => c.validate(),
        }
    }
}

impl Validate for PlayReadyLicense {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.security_level == Some(PlayReadySecurityLevel::Unknown) {
            return Err(ValidationError::new(
                "securityLevel",
                Problem::Unsupported("Unknown"),
            ));
        }
        if self.license_type == PlayReadyLicenseType::Unknown {
            return Err(ValidationError::new(
                "licenseType",
                Problem::Unsupported("Unknown"),
            ));
        }
        if self.content_type == PlayReadyContentType::Unknown {
            return Err(ValidationError::new(
                "contentType",
                Problem::Unsupported("Unknown"),
            ));
        }
        if let (Some(b), Some(e)) = (self.begin_date, self.expiration_date)
            && e <= b
        {
            return Err(ValidationError::new(
                "expirationDate",
                Problem::Invalid("must be after beginDate"),
            ));
        }
        for (field, v) in [
            ("relativeBeginDate", &self.relative_begin_date),
            ("relativeExpirationDate", &self.relative_expiration_date),
            ("gracePeriod", &self.grace_period),
        ] {
            if let Some(d) = v {
                validate_iso_duration(field, d)?;
            }
        }
        if let PlayReadyContentKeyLocation::FromKeyIdentifier { key_id } =
            &self.content_key_location
            && key_id.is_nil()
        {
            return Err(ValidationError::new(
                "contentKeyLocation.keyId",
                Problem::Invalid("must not be the nil UUID"),
            ));
        }
        if let Some(r) = &self.play_right {
            nested("playRight", r.validate())?;
        }
        Ok(())
    }
}

impl Validate for PlayReadyPlayRight {
    fn validate(&self) -> Result<(), ValidationError> {
        if let Some(d) = &self.first_play_expiration {
            validate_iso_duration("firstPlayExpiration", d)?;
        }
        for (field, v) in [
            ("scmsRestriction", self.scms_restriction),
            (
                "agcAndColorStripeRestriction",
                self.agc_and_color_stripe_restriction,
            ),
        ] {
            if let Some(v) = v {
                validate_range(field, v.into(), 0, 3)?;
            }
        }
        if let Some(r) = &self.explicit_analog_television_output_restriction {
            validate_range(
                "explicitAnalogTelevisionOutputRestriction.configurationData",
                r.configuration_data.into(),
                0,
                3,
            )?;
        }
        if self.allow_passing_video_content_to_unknown_output
            == PlayReadyUnknownOutputPassingOption::Unknown
        {
            return Err(ValidationError::new(
                "allowPassingVideoContentToUnknownOutput",
                Problem::Unsupported("Unknown"),
            ));
        }
        // PlayReady Compliance Rules: output protection levels are 100..=500.
        for (field, v) in [
            (
                "uncompressedDigitalVideoOpl",
                self.uncompressed_digital_video_opl,
            ),
            (
                "compressedDigitalVideoOpl",
                self.compressed_digital_video_opl,
            ),
            ("analogVideoOpl", self.analog_video_opl),
            (
                "compressedDigitalAudioOpl",
                self.compressed_digital_audio_opl,
            ),
            (
                "uncompressedDigitalAudioOpl",
                self.uncompressed_digital_audio_opl,
            ),
        ] {
            if let Some(v) = v {
                validate_range(field, v.into(), 100, 500)?;
            }
        }
        Ok(())
    }
}

impl Validate for FairPlayConfiguration {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.rental_and_lease_key_type == FairPlayRentalAndLeaseKeyType::Unknown {
            return Err(ValidationError::new(
                "rentalAndLeaseKeyType",
                Problem::Unsupported("Unknown"),
            ));
        }
        validate_range(
            "rentalDuration",
            self.rental_duration,
            0,
            i64::from(u32::MAX),
        )?;
        if let Some(o) = &self.offline_rental_configuration {
            validate_range(
                "offlineRentalConfiguration.playbackDurationSeconds",
                o.playback_duration_seconds,
                0,
                i64::from(u32::MAX),
            )?;
            validate_range(
                "offlineRentalConfiguration.storageDurationSeconds",
                o.storage_duration_seconds,
                0,
                i64::from(u32::MAX),
            )?;
        }
        if self.license_server_url.is_none() {
            // Without an upstream KSM, castguard needs the credentials itself.
            match &self.ask {
                None => return Err(ValidationError::new("ask", Problem::Required)),
                Some(a) if a.len() != 16 => {
                    return Err(ValidationError::new(
                        "ask",
                        Problem::Length {
                            expected: "16 bytes",
                            actual: a.len(),
                        },
                    ));
                }
                Some(_) => {}
            }
            if self.fair_play_pfx.as_ref().is_none_or(|p| p.is_empty()) {
                return Err(ValidationError::new("fairPlayPfx", Problem::Required));
            }
            if self.fair_play_pfx_password.is_none() {
                return Err(ValidationError::new(
                    "fairPlayPfxPassword",
                    Problem::Required,
                ));
            }
        } else if let Some(a) = &self.ask
            && a.len() != 16
        {
            return Err(ValidationError::new(
                "ask",
                Problem::Length {
                    expected: "16 bytes",
                    actual: a.len(),
                },
            ));
        }
        validate_license_server(
            self.license_server_url.as_deref(),
            &self.license_server_headers,
            self.vendor.as_ref(),
        )
    }
}

impl Validate for ContentKeyPolicyRestriction {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            ContentKeyPolicyRestriction::Open => Ok(()),
            ContentKeyPolicyRestriction::Unknown => Err(ValidationError::new(
                "@odata.type",
                Problem::Unsupported("ContentKeyPolicyUnknownRestriction cannot be evaluated"),
            )),
            ContentKeyPolicyRestriction::Token(t) => t.validate(),
        }
    }
}

impl Validate for TokenRestriction {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_text("issuer", &self.issuer, 2048)?;
        validate_text("audience", &self.audience, 2048)?;
        if self.restriction_token_type == TokenType::Unknown {
            return Err(ValidationError::new(
                "restrictionTokenType",
                Problem::Unsupported("Unknown"),
            ));
        }
        validate_opt_url(
            "openIdConnectDiscoveryDocument",
            self.open_id_connect_discovery_document.as_deref(),
        )?;
        if self.open_id_connect_discovery_document.is_some()
            && self.restriction_token_type != TokenType::Jwt
        {
            return Err(ValidationError::new(
                "openIdConnectDiscoveryDocument",
                Problem::Invalid("requires restrictionTokenType Jwt"),
            ));
        }
        match &self.primary_verification_key {
            Some(k) => nested(
                "primaryVerificationKey",
                k.validate(self.restriction_token_type),
            )?,
            None if self.open_id_connect_discovery_document.is_none() => {
                return Err(ValidationError::new(
                    "primaryVerificationKey",
                    Problem::Invalid("is required unless openIdConnectDiscoveryDocument is set"),
                ));
            }
            None => {}
        }
        if self.alternate_verification_keys.len() > MAX_TOKEN_KEYS {
            return Err(ValidationError::new(
                "alternateVerificationKeys",
                Problem::TooMany {
                    max: MAX_TOKEN_KEYS,
                },
            ));
        }
        for (i, k) in self.alternate_verification_keys.iter().enumerate() {
            nested(
                &format!("alternateVerificationKeys[{i}]"),
                k.validate(self.restriction_token_type),
            )?;
        }
        if self.required_claims.len() > MAX_TOKEN_KEYS {
            return Err(ValidationError::new(
                "requiredClaims",
                Problem::TooMany {
                    max: MAX_TOKEN_KEYS,
                },
            ));
        }
        for (i, c) in self.required_claims.iter().enumerate() {
            match &c.claim_type {
                None => {
                    return Err(ValidationError::new(
                        format!("requiredClaims[{i}].claimType"),
                        Problem::Required,
                    ));
                }
                Some(t) => validate_text(&format!("requiredClaims[{i}].claimType"), t, 256)?,
            }
            validate_opt_text(
                &format!("requiredClaims[{i}].claimValue"),
                c.claim_value.as_deref(),
                MAX_TEXT_LEN,
            )?;
        }
        Ok(())
    }
}

impl TokenKey {
    fn validate(&self, token_type: TokenType) -> Result<(), ValidationError> {
        match self {
            TokenKey::Symmetric(k) => {
                if k.key_value.len() < MIN_SYMMETRIC_KEY_LEN {
                    return Err(ValidationError::new(
                        "keyValue",
                        Problem::Length {
                            expected: "at least 16 bytes",
                            actual: k.key_value.len(),
                        },
                    ));
                }
                if k.key_value.len() > 1024 {
                    return Err(ValidationError::new(
                        "keyValue",
                        Problem::Length {
                            expected: "at most 1024 bytes",
                            actual: k.key_value.len(),
                        },
                    ));
                }
                Ok(())
            }
            TokenKey::Rsa(k) => {
                if token_type == TokenType::Swt {
                    return Err(ValidationError::new(
                        "@odata.type",
                        Problem::Unsupported("SWT tokens are HMAC-signed: use a symmetric key"),
                    ));
                }
                let modulus = strip_leading_zeros(&k.modulus);
                if modulus.len() < MIN_RSA_MODULUS_LEN || modulus.len() > 1024 {
                    return Err(ValidationError::new(
                        "modulus",
                        Problem::Length {
                            expected: "2048 to 8192 bits",
                            actual: modulus.len(),
                        },
                    ));
                }
                let exponent = strip_leading_zeros(&k.exponent);
                if exponent.is_empty() || exponent.len() > 8 {
                    return Err(ValidationError::new(
                        "exponent",
                        Problem::Length {
                            expected: "1 to 8 bytes",
                            actual: exponent.len(),
                        },
                    ));
                }
                Ok(())
            }
            TokenKey::X509Certificate(k) => {
                if token_type == TokenType::Swt {
                    return Err(ValidationError::new(
                        "@odata.type",
                        Problem::Unsupported("SWT tokens are HMAC-signed: use a symmetric key"),
                    ));
                }
                // DER SEQUENCE tag; full parsing is the token validator's job.
                if k.raw_body.len() < 64
                    || k.raw_body.len() > 65536
                    || k.raw_body.first() != Some(&0x30)
                {
                    return Err(ValidationError::new(
                        "rawBody",
                        Problem::Invalid("must be a DER X.509 certificate"),
                    ));
                }
                Ok(())
            }
        }
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelError, from_json, parse_valid};

    /// The v3 "policy with multiple options" example (ContentKeyPolicies_Get
    /// with secrets), with a 32-byte symmetric key instead of its 2-byte "AAA=".
    const MULTI: &str = r##"{
      "name": "PolicyWithMultipleOptions",
      "description": "A policy with multiple options.",
      "created": "2015-12-01T00:00:00Z",
      "lastModified": "2016-12-02T00:00:00Z",
      "policyId": "ed7f3d1b-cfa7-4181-b966-e0b3027eec3a",
      "options": [
        {
          "policyOptionId": "caf1e28c-8288-4301-8c46-c0f9312c512f",
          "configuration": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
          "restriction": {
            "@odata.type": "#Microsoft.Media.ContentKeyPolicyTokenRestriction",
            "alternateVerificationKeys": [],
            "audience": "urn:test",
            "issuer": "http://testacs",
            "primaryVerificationKey": {
              "@odata.type": "#Microsoft.Media.ContentKeyPolicySymmetricTokenKey",
              "keyValue": "c2VjcmV0LWhtYWMta2V5LWZvci10ZXN0cy0wMTIzNDU="
            },
            "requiredClaims": [
              {"claimType": "urn:microsoft:azure:mediaservices:contentkeyidentifier"},
              {"claimType": "DRM", "claimValue": "Widevine"}
            ],
            "restrictionTokenType": "Jwt"
          }
        },
        {
          "policyOptionId": "da346259-0cd6-4609-89dc-15ac131bd92f",
          "configuration": {
            "@odata.type": "#Microsoft.Media.ContentKeyPolicyWidevineConfiguration",
            "widevineTemplate": "{\"allowed_track_types\":\"SD_HD\",\"content_key_specs\":[{\"track_type\":\"SD\",\"security_level\":1,\"required_output_protection\":{\"hdcp\":\"HDCP_V2\"}}],\"policy_overrides\":{\"can_play\":true,\"can_persist\":true,\"can_renew\":false}}",
            "licenseServerUrl": "https://license.widevine.example/proxy",
            "licenseServerHeaders": {"X-Api-Key": "upstream-secret-123"}
          },
          "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}
        }
      ]
    }"##;

    /// The v3 PlayReady-with-open-restriction example.
    const PLAYREADY: &str = r##"{
      "name": "PolicyWithPlayReadyOptionAndOpenRestriction",
      "description": "ArmPolicyDescription",
      "options": [{
        "name": "ArmPolicyOptionName",
        "configuration": {
          "@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyConfiguration",
          "licenses": [{
            "allowTestDevices": true,
            "beginDate": "2017-10-16T18:22:53.46Z",
            "contentKeyLocation": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyPlayReadyContentEncryptionKeyFromHeader"},
            "contentType": "UltraVioletDownload",
            "licenseType": "Persistent",
            "playRight": {
              "allowPassingVideoContentToUnknownOutput": "NotAllowed",
              "digitalVideoOnlyContentRestriction": false,
              "imageConstraintForAnalogComponentVideoRestriction": true,
              "imageConstraintForAnalogComputerMonitorRestriction": false,
              "scmsRestriction": 2
            },
            "securityLevel": "SL150"
          }]
        },
        "restriction": {"@odata.type": "#Microsoft.Media.ContentKeyPolicyOpenRestriction"}
      }]
    }"##;

    fn rsa_json(modulus_len: usize) -> String {
        use base64::Engine as _;
        let mut m = vec![0u8];
        m.extend(std::iter::repeat_n(0xc5u8, modulus_len));
        let m = crate::model::secret::B64.encode(m);
        format!(
            r##"{{"name":"rsa","options":[{{"configuration":{{"@odata.type":"#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"}},
            "restriction":{{"@odata.type":"#Microsoft.Media.ContentKeyPolicyTokenRestriction","issuer":"https://sts.example","audience":"castguard",
            "restrictionTokenType":"Jwt","primaryVerificationKey":{{"@odata.type":"#Microsoft.Media.ContentKeyPolicyRsaTokenKey","exponent":"AQAB","modulus":"{m}"}}}}}}]}}"##
        )
    }

    #[test]
    fn v3_multi_option_round_trip() {
        let p: ContentKeyPolicy = parse_valid(MULTI).unwrap();
        assert_eq!(p.options.len(), 2);
        let ContentKeyPolicyRestriction::Token(t) = &p.options[0].restriction else {
            panic!()
        };
        assert_eq!(
            t.required_claims[1].claim_value.as_deref(),
            Some("Widevine")
        );
        let Some(TokenKey::Symmetric(k)) = &t.primary_verification_key else {
            panic!()
        };
        assert_eq!(k.key_value.expose(), b"secret-hmac-key-for-tests-012345");
        let ContentKeyPolicyConfiguration::Widevine(w) = &p.options[1].configuration else {
            panic!()
        };
        assert_eq!(
            w.license_server_url.as_deref(),
            Some("https://license.widevine.example/proxy")
        );

        // Same JSON values after a round trip (key order aside).
        let again = serde_json::to_value(&p).unwrap();
        let original: serde_json::Value = serde_json::from_str(MULTI).unwrap();
        assert_eq!(again, original);

        // Debug leaks neither the HMAC key nor the upstream header value.
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("upstream-secret") && !debug.contains("secret-hmac"),
            "{debug}"
        );
        assert!(debug.contains("X-Api-Key"));
    }

    #[test]
    fn without_secrets_blanks_them() {
        let p: ContentKeyPolicy = from_json(MULTI).unwrap();
        let json = serde_json::to_string(&p.without_secrets()).unwrap();
        assert!(
            !json.contains("c2VjcmV0") && !json.contains("upstream-secret"),
            "{json}"
        );
        assert!(json.contains("X-Api-Key"));
    }

    #[test]
    fn v3_playready_round_trip() {
        let p: ContentKeyPolicy = parse_valid(PLAYREADY).unwrap();
        let ContentKeyPolicyConfiguration::PlayReady(c) = &p.options[0].configuration else {
            panic!()
        };
        assert_eq!(c.licenses[0].license_type, PlayReadyLicenseType::Persistent);
        assert_eq!(
            c.licenses[0].content_key_location,
            PlayReadyContentKeyLocation::FromHeader
        );
        let original: serde_json::Value = serde_json::from_str(PLAYREADY).unwrap();
        let again = serde_json::to_value(&p).unwrap();
        // v3 writes fractional seconds as given; time prints "2017-10-16T18:22:53.46Z" too.
        assert_eq!(again, original);
    }

    #[test]
    fn rsa_keys_are_size_checked() {
        assert!(parse_valid::<ContentKeyPolicy>(&rsa_json(256)).is_ok());
        match parse_valid::<ContentKeyPolicy>(&rsa_json(128)) {
            Err(ModelError::Invalid(e)) => {
                assert_eq!(
                    e.field,
                    "options[0].restriction.primaryVerificationKey.modulus"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn weak_symmetric_key_and_missing_issuer_named() {
        // The 2-byte key of the v3 example is refused.
        let weak = MULTI.replace("c2VjcmV0LWhtYWMta2V5LWZvci10ZXN0cy0wMTIzNDU=", "AAA=");
        let e = from_json::<ContentKeyPolicy>(&weak)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(
            e.field,
            "options[0].restriction.primaryVerificationKey.keyValue"
        );
        let no_issuer = MULTI.replace(r#""issuer": "http://testacs""#, r#""issuer": """#);
        let e = from_json::<ContentKeyPolicy>(&no_issuer)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "options[0].restriction.issuer: must not be empty"
        );
    }

    #[test]
    fn unknown_enum_values_and_types_rejected() {
        let e =
            from_json::<ContentKeyPolicy>(&MULTI.replace(r#""Jwt""#, r#""Paseto""#)).unwrap_err();
        // Inside an `@odata.type`-tagged object serde buffers the content, so
        // the path stops at the tagged object; the message names the value.
        assert_eq!(e.path, "options[0].restriction");
        assert!(e.message.contains("Paseto"), "{e}");
        let e = from_json::<ContentKeyPolicy>(&MULTI.replace(
            "ContentKeyPolicySymmetricTokenKey",
            "ContentKeyPolicyEcTokenKey",
        ))
        .unwrap_err();
        assert_eq!(e.path, "options[0].restriction");
        assert!(e.message.contains("ContentKeyPolicyEcTokenKey"), "{e}");
        let e = from_json::<ContentKeyPolicy>(&MULTI.replace(
            "ContentKeyPolicyWidevineConfiguration",
            "ContentKeyPolicyWideVineConfiguration",
        ))
        .unwrap_err();
        assert_eq!(e.path, "options[1].configuration.@odata.type");
        // "Unknown" parses (v3 emits it) but does not validate.
        let unknown = MULTI.replace(
            "ContentKeyPolicyOpenRestriction",
            "ContentKeyPolicyUnknownRestriction",
        );
        let e = from_json::<ContentKeyPolicy>(&unknown)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "options[1].restriction.@odata.type");
        let e = from_json::<ContentKeyPolicy>(&MULTI.replace(r#""Jwt""#, r#""Unknown""#))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "options[0].restriction.restrictionTokenType");
    }

    #[test]
    fn header_injection_refused() {
        let inj = MULTI.replace("upstream-secret-123", "x\\r\\nHost: evil");
        let e = from_json::<ContentKeyPolicy>(&inj)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(
            e.field,
            "options[1].configuration.licenseServerHeaders.X-Api-Key"
        );
        assert!(!e.to_string().contains("evil"));
    }

    #[test]
    fn oidc_only_token_restriction() {
        let json = r##"{"name":"oidc","options":[{"configuration":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyClearKeyConfiguration"},
          "restriction":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyTokenRestriction","issuer":"https://idp.example","audience":"castguard",
          "restrictionTokenType":"Jwt","openIdConnectDiscoveryDocument":"https://idp.example/.well-known/openid-configuration"}}]}"##;
        assert!(parse_valid::<ContentKeyPolicy>(json).is_ok());
        let no_keys = json.replace(r#","openIdConnectDiscoveryDocument":"https://idp.example/.well-known/openid-configuration""#, "");
        let e = from_json::<ContentKeyPolicy>(&no_keys)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "options[0].restriction.primaryVerificationKey");
    }

    #[test]
    fn fairplay_needs_credentials_or_upstream() {
        let base = r##"{"name":"fp","options":[{"configuration":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyFairPlayConfiguration",
            "rentalAndLeaseKeyType":"PersistentUnlimited","rentalDuration":2249 CFG},
            "restriction":{"@odata.type":"#Microsoft.Media.ContentKeyPolicyOpenRestriction"}}]}"##;
        let e = from_json::<ContentKeyPolicy>(&base.replace(" CFG", ""))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "options[0].configuration.ask");
        let creds =
            r#","ask":"AAECAwQFBgcICQoLDA0ODw==","fairPlayPfx":"UEZY","fairPlayPfxPassword":"pw""#;
        let p: ContentKeyPolicy = parse_valid(&base.replace(" CFG", creds)).unwrap();
        assert!(!format!("{p:?}").contains("\"pw\""));
        let upstream = r#","licenseServerUrl":"https://ksm.example/fps""#;
        assert!(parse_valid::<ContentKeyPolicy>(&base.replace(" CFG", upstream)).is_ok());
        let e = from_json::<ContentKeyPolicy>(&base.replace("2249 CFG", "-1"))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "options[0].configuration.rentalDuration");
    }

    #[test]
    fn empty_options_refused() {
        let e = from_json::<ContentKeyPolicy>(r#"{"name":"p","options":[]}"#)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "options");
    }
}
