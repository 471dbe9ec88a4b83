//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.
//!
//! Paths, operations, parameters and status codes are generated from the
//! handlers' `#[utoipa::path]` attributes, so a route without documentation
//! does not compile into the document. The body schemas are written here by
//! hand ([`component_schemas`]) because the model types live in `keys` and
//! serialise through custom serde code (`@odata.type` tags, base64 secrets,
//! RFC 3339 times) that a derive would describe wrongly.
//!
//! The request schemas say what the server accepts, as closely as JSON Schema
//! can: names match `[A-Za-z0-9_.-]{1,260}` not starting with `.`, free text has no control
//! characters, optional fields may be `null`, key values are base64 of 16
//! bytes. Policy parts whose rules JSON Schema cannot express (a Widevine
//! template that must be a JSON object inside a string, PlayReady license
//! templates, RSA/X.509 token keys) are accepted by the server but documented
//! only in prose, so that every body the schema generates is accepted.
//! schemathesis (`scripts/schemathesis.sh`) checks this document against the
//! live server.

use crate::AppState;
use crate::auth::Admin;
use crate::routes;
use axum::Json;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{RefOr, Schema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "castguard management API",
        description = "Assets, content keys, content key policies, streaming policies, streaming locators, live events and live outputs (cloud media-service v3 JSON shapes). Every call needs `Authorization: Bearer <admin token>`."
    ),
    paths(
        routes::assets::list,
        routes::assets::get,
        routes::assets::put,
        routes::assets::delete,
        routes::assets::upload,
        routes::assets::put_file,
        routes::assets::delete_file,
        routes::content_keys::list,
        routes::content_keys::get,
        routes::content_keys::put,
        routes::content_keys::delete,
        routes::content_key_policies::list,
        routes::content_key_policies::get,
        routes::content_key_policies::put,
        routes::content_key_policies::delete,
        routes::streaming_policies::list,
        routes::streaming_policies::get,
        routes::streaming_policies::put,
        routes::streaming_policies::delete,
        routes::streaming_locators::list,
        routes::streaming_locators::get,
        routes::streaming_locators::put,
        routes::streaming_locators::delete,
        routes::streaming_locators::list_paths,
        routes::streaming_locators::list_content_keys,
        routes::import::get_with_secrets,
        routes::import::import,
        routes::cpix::export_plain,
        routes::cpix::export_encrypted,
        routes::cpix::import,
        routes::cpix::recipient_certificate,
        routes::live_events::list,
        routes::live_events::get,
        routes::live_events::put,
        routes::live_events::delete,
        routes::live_events::start,
        routes::live_events::stop,
        routes::live_outputs::list,
        routes::live_outputs::get,
        routes::live_outputs::put,
        routes::live_outputs::delete,
        openapi_json,
    )
)]
struct ApiDoc;

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", operation_id = "getOpenApiDocument",
    responses((status = 200, description = "This document", body = schemas::OpenApiDocument), (status = 401, body = schemas::Error)))]
#[allow(dead_code)] // documents `serve`, which axum calls
fn openapi_json() {}

/// `GET /api/v1/openapi.json`.
pub async fn serve(
    _: Admin,
    axum::extract::State(_): axum::extract::State<AppState>,
) -> Json<Value> {
    Json(document().clone())
}

/// The whole document as JSON (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    doc["openapi"] = json!("3.1.0");
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["info"]["license"] = json!({"name": "Apache-2.0", "identifier": "Apache-2.0"});
    doc["servers"] = json!([{"url": "/"}]);
    doc["components"]["schemas"] = component_schemas();
    doc["components"]["securitySchemes"] = json!({"adminToken": {"type": "http", "scheme": "bearer", "description": "The admin token of `castguard serve`"}});
    doc["security"] = json!([{"adminToken": []}]);
    // Every operation: too many wrong admin tokens from the client.
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                let has_body = op.get("requestBody").is_some();
                if let Some(responses) = op["responses"].as_object_mut() {
                    responses.insert("429".into(), too_many_failures());
                    // `server::listen`: a body that stalls or trickles.
                    if has_body {
                        responses.insert("408".into(), json!({
                            "description": "The request body did not arrive in time (castguard serve --request-body-timeout, --request-body-min-rate); the connection closes",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                        }));
                    }
                }
            }
        }
    }
    doc
}

/// The 429 of a client that sent too many wrong admin tokens.
fn too_many_failures() -> Value {
    json!({
        "description": "Too many failed admin authentications from this client address; retry after the given seconds",
        "headers": {"Retry-After": {"description": "Seconds until the next attempt is considered", "schema": {"type": "integer", "minimum": 1}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// Marker types naming the hand-written component schemas and parameters in
/// the `#[utoipa::path]` attributes.
pub mod schemas {
    use super::*;

    macro_rules! component {
        ($($ty:ident),* $(,)?) => {$(
            pub struct $ty;
            impl utoipa::PartialSchema for $ty {
                // Replaced by `component_schemas()[name]` in `build`.
                fn schema() -> RefOr<Schema> {
                    RefOr::T(Schema::Object(utoipa::openapi::ObjectBuilder::new().build()))
                }
            }
            impl utoipa::ToSchema for $ty {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($ty))
                }
            }
        )*};
    }

    component!(
        Error,
        OpenApiDocument,
        Mp4Upload,
        Asset,
        AssetInput,
        AssetList,
        ContentKey,
        ContentKeyInput,
        ContentKeyList,
        ContentKeyPolicy,
        ContentKeyPolicyInput,
        ContentKeyPolicyList,
        StreamingPolicy,
        StreamingPolicyInput,
        StreamingPolicyList,
        StreamingLocator,
        StreamingLocatorInput,
        StreamingLocatorList,
        ListPathsResponse,
        ListContentKeysResponse,
        ImportRequest,
        ImportResponse,
        CpixDocument,
        Certificate,
        ImportCpixResponse,
        LiveEvent,
        LiveEventInput,
        LiveEventList,
        LiveOutput,
        LiveOutputInput,
        LiveOutputList,
    );

    macro_rules! param {
        ($ty:ident, $json:expr) => {
            pub struct $ty;
            impl utoipa::IntoParams for $ty {
                fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                    serde_json::from_value::<Parameter>($json)
                        .into_iter()
                        .collect()
                }
            }
        };
    }

    param!(
        Name,
        json!({"name": "name", "in": "path", "required": true, "description": "Entity name",
        "schema": super::name_schema()})
    );
    param!(
        FileName,
        json!({"name": "file", "in": "path", "required": true,
        "description": "A source file of the asset's title: letters, digits, '.', '_', '-', not starting with '.'",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$", "minLength": 1, "maxLength": 128}})
    );
    param!(
        Top,
        json!({"name": "$top", "in": "query", "required": false, "description": "Page size (default 100)",
        "schema": {"type": "integer", "minimum": 1, "maximum": store::MAX_PAGE_LIMIT}})
    );
    param!(
        SkipToken,
        json!({"name": "$skiptoken", "in": "query", "required": false,
        "description": "List names after this one (from @odata.nextLink)", "schema": super::name_schema()})
    );
    param!(
        DryRun,
        json!({"name": "dryRun", "in": "query", "required": false,
        "description": "Check and show what the import would do, and write nothing",
        "schema": {"type": "string", "enum": ["true", "false"]}})
    );
    param!(
        TrustedSigner,
        json!({"name": "trustedSigner", "in": "query", "required": false,
        "description": "SHA-256 fingerprint of the only certificate trusted to sign the document (64 hex digits, colons allowed): then every list must be covered by its valid XML signature",
        "schema": {"type": "string", "pattern": "^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$"}})
    );
    param!(
        PolicyName,
        json!({"name": "policyName", "in": "query", "required": false,
        "description": "The content key policy of the imported keys", "schema": super::name_schema()})
    );
    param!(
        IncludeValues,
        json!({"name": "includeValues", "in": "query", "required": false,
        "description": "Also return the key values (base64)", "schema": {"type": "string", "enum": ["true", "false"]}})
    );
}

fn name_schema() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,259}$", "minLength": 1, "maxLength": 260})
}

/// Nullable: `Option` fields accept `null`.
fn opt(mut s: Value) -> Value {
    if let Some(t) = s.get("type").and_then(Value::as_str).map(str::to_string) {
        s["type"] = json!([t, "null"]);
        if let Some(e) = s.get_mut("enum").and_then(Value::as_array_mut) {
            e.push(Value::Null);
        }
        s
    } else {
        json!({"anyOf": [s, {"type": "null"}]})
    }
}

/// Free text: 1..=max characters, no control characters but tab and newline.
fn text(max: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max,
        "pattern": "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$"})
}

/// An absolute http(s) URL of printable ASCII.
fn url() -> Value {
    json!({"type": "string", "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[!-~]*$"})
}

/// A hyphenated UUID whose version nibble is not 0, which keeps out the nil
/// UUID (refused) without a look-ahead the generators may not support.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-9a-fA-F][0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// RFC 3339 date-time (days up to 28 so every generated one exists).
const TIME_PATTERN: &str = "^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

/// A UUID other than the nil UUID.
fn uuid_in() -> Value {
    json!({"type": "string", "pattern": UUID_PATTERN})
}

fn time_in() -> Value {
    json!({"type": "string", "format": "date-time", "pattern": TIME_PATTERN})
}

fn uuid_out() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn time_out() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn list_of(item: &str) -> Value {
    json!({"type": "object", "required": ["value"], "properties": {
        "value": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "@odata.nextLink": {"type": "string", "description": "The next page, absent on the last"}}})
}

fn odata(t: &str) -> Value {
    json!({"type": "string", "enum": [format!("#Microsoft.Media.{t}")]})
}

fn enabled_protocols() -> Value {
    opt(
        json!({"type": "object", "description": "castguard serves DASH and HLS; download and smoothStreaming must be false",
        "properties": {"download": {"type": "boolean", "enum": [false]}, "dash": {"type": "boolean"},
            "hls": {"type": "boolean"}, "smoothStreaming": {"type": "boolean", "enum": [false]}},
        "anyOf": [{"required": ["dash"], "properties": {"dash": {"enum": [true]}}},
                  {"required": ["hls"], "properties": {"hls": {"enum": [true]}}}]}),
    )
}

/// Track selections: each condition is a sample entry four-character code
/// (`FourCC`, v3) or a key class (`TrackClass`, castguard's extension:
/// AUDIO, SD, HD, UHD1, UHD2 by pixel count); an empty list is refused (it
/// would select every track).
fn track_selections() -> Value {
    let condition = |property: &str, value: Value| {
        json!({"type": "object", "required": ["property", "operation", "value"], "properties": {
            "property": {"type": "string", "enum": [property]},
            "operation": {"type": "string", "enum": ["Equal"]},
            "value": value}})
    };
    json!({"type": "array", "maxItems": 16, "items": {"type": "object", "required": ["trackSelections"], "properties": {
        "trackSelections": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"oneOf": [
            condition("FourCC", json!({"type": "string", "pattern": "^[ -~]{4}$"})),
            condition("TrackClass", json!({"type": "string", "enum": keys::model::TRACK_CLASSES})),
        ]}}}}})
}

fn policy_content_keys() -> Value {
    opt(json!({"type": "object", "properties": {
        "defaultKey": opt(json!({"type": "object", "properties": {"label": opt(text(260)), "policyName": opt(name_schema())}})),
        "keyToTrackMappings": {"type": "array", "maxItems": 16, "items": {"type": "object", "required": ["label"], "properties": {
            "label": text(260), "policyName": opt(name_schema()), "tracks": track_selections()}}}}}))
}

fn drm_url_config() -> Value {
    opt(
        json!({"type": "object", "properties": {"customLicenseAcquisitionUrlTemplate": opt(url())}}),
    )
}

fn play_ready_drm() -> Value {
    opt(
        json!({"type": "object", "properties": {"customLicenseAcquisitionUrlTemplate": opt(url()),
        "playReadyCustomAttributes": opt(text(1024))}}),
    )
}

fn clear_key_config() -> Value {
    opt(json!({"type": "object", "properties": {"customKeysAcquisitionUrlTemplate": opt(url())}}))
}

fn license_server_headers() -> Value {
    json!({"type": "object", "maxProperties": 32, "description": "Headers sent to the upstream license server (values are secrets)",
        "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"},
        "additionalProperties": {"type": "string", "maxLength": 8192, "pattern": "^[^\\r\\n\\u0000]*$"}})
}

/// `vendor` on a DRM configuration (issue 20): the vendor license service
/// and the secret its authorization message is signed with.
fn license_vendor() -> Value {
    let printable = |max: usize| json!({"type": "string", "pattern": format!("^[!-~]{{1,{max}}}$")});
    let header = json!({"type": "string", "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"});
    // At most 16 entries of short scalars: well under the 8 KiB the server allows.
    let template = json!({"type": "object", "maxProperties": 16, "description": "The message; string values like {{keyIds}} or {{sub}} are filled per request",
        "additionalProperties": {"type": ["string", "number", "boolean", "null"], "maxLength": 256}});
    let secret = json!({"type": "string", "description": "base64, 16 to 510 bytes (secret: returned blank)",
        "pattern": "^(?:[A-Za-z0-9+/]{4}){6,170}$"});
    json!({"description": "The vendor license service behind licenseServerUrl (docs/drm-vendors.md); secrets are returned blank",
        "oneOf": [
        {"type": "object", "required": ["type", "communicationKeyId", "communicationKey"], "properties": {
            "type": {"type": "string", "enum": ["axinom"]},
            "communicationKeyId": {"type": "string", "pattern": UUID_PATTERN, "not": {"pattern": "^[0-]+$"}},
            "communicationKey": {"type": "string", "description": "32 bytes, base64 (secret)",
                "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"},
            "includeKeys": {"type": "boolean"}}},
        {"type": "object", "required": ["type", "merchant", "sharedSecret"], "properties": {
            "type": {"type": "string", "enum": ["drmtoday"]},
            "merchant": printable(128),
            "sharedSecret": {"type": "string", "description": "hex, 16 to 512 bytes (secret)", "pattern": "^(?:[0-9a-fA-F]{2}){16,512}$"},
            "keyId": opt(printable(128)), "assetId": opt(printable(256))}},
        {"type": "object", "required": ["type", "siteId", "siteKey", "accessKey"], "properties": {
            "type": {"type": "string", "enum": ["pallycon"]},
            "siteId": {"type": "string", "pattern": "^[A-Za-z0-9]{4}$"},
            "siteKey": {"type": "string", "pattern": "^[!-~]{32}$"},
            "accessKey": {"type": "string", "pattern": "^[!-~]{32}$"},
            "contentId": opt(printable(200)), "includeKeys": {"type": "boolean"}}},
        {"type": "object", "required": ["type", "header", "format", "template"], "properties": {
            "type": {"type": "string", "enum": ["generic"]}, "header": header.clone(),
            "format": {"type": "string", "enum": ["json", "json-base64"]}, "template": template.clone()}},
        {"type": "object", "required": ["type", "header", "format", "template", "secret"], "properties": {
            "type": {"type": "string", "enum": ["generic"]}, "header": header,
            "format": {"type": "string", "enum": ["jwt"]}, "template": template, "secret": secret}}]})
}

fn symmetric_key() -> Value {
    json!({"type": "object", "required": ["@odata.type", "keyValue"], "properties": {
        "@odata.type": odata("ContentKeyPolicySymmetricTokenKey"),
        "keyValue": {"type": "string", "description": "HMAC key, base64, 16 to 1024 bytes",
            "pattern": "^(?:[A-Za-z0-9+/]{4}){6,340}$"}}})
}

/// Every component schema, by name.
pub fn component_schemas() -> Value {
    let error = json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
        "required": ["code", "message"], "properties": {
            "code": {"type": "string", "enum": ["invalid_request", "invalid_media", "unauthorized", "not_found",
                "conflict", "payload_too_large", "rate_limited", "request_timeout", "internal_error"]},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "JSON path of the offending field"}}}}});

    let asset = json!({"type": "object", "required": ["name", "storage"], "properties": {
        "name": {"type": "string"}, "assetId": uuid_out(), "created": time_out(), "lastModified": time_out(),
        "alternateId": {"type": "string"}, "description": {"type": "string"},
        "storage": {"type": "object", "required": ["path"], "description": "Where the ingested clear CMAF lives (read-only)",
            "properties": {"path": {"type": "string"}, "tracks": {"description": "Track summary written by ingest"}}}}});
    let asset_input = json!({"type": "object", "description": "Writable fields; `name` comes from the URL, server-assigned fields are ignored",
        "properties": {"alternateId": opt(text(260)), "description": opt(text(4096)),
            "assetId": ignored(json!({})), "created": ignored(json!({})), "lastModified": ignored(json!({})),
            "container": ignored(json!({})), "storageAccountName": ignored(json!({})),
            "storageEncryptionFormat": ignored(json!({})), "storage": ignored(json!({}))}});

    let key_type = json!({"type": "string", "enum": ["CommonEncryption", "EnvelopeEncryption"]});
    let content_key = json!({"type": "object", "required": ["name", "keyId", "type"], "properties": {
        "name": {"type": "string"}, "keyId": uuid_out(), "type": key_type, "label": {"type": "string"},
        "policyName": {"type": "string"}, "created": time_out(), "lastModified": time_out()}});
    let content_key_input = json!({"type": "object", "required": ["type"],
        "description": "keyId and value are generated when a new key leaves them out, and kept when a replace does",
        "properties": {
            "keyId": opt(uuid_in()), "type": key_type, "label": opt(text(260)), "policyName": opt(name_schema()),
            "created": ignored(json!({})), "lastModified": ignored(json!({})),
            "value": opt(json!({"type": "string", "description": "16 bytes, base64, not all zero",
                "pattern": "^[A-Za-z0-9+/]{21}[AQgw](==)?$", "not": {"type": "string", "pattern": "^A{22}"}}))}});

    let configuration_types = [
        "ContentKeyPolicyClearKeyConfiguration",
        "ContentKeyPolicyWidevineConfiguration",
        "ContentKeyPolicyPlayReadyConfiguration",
        "ContentKeyPolicyFairPlayConfiguration",
        "ContentKeyPolicyUnknownConfiguration",
    ];
    let restriction_types = [
        "ContentKeyPolicyOpenRestriction",
        "ContentKeyPolicyTokenRestriction",
        "ContentKeyPolicyUnknownRestriction",
    ];
    let tagged = |types: &[&str]| {
        json!({"type": "object", "required": ["@odata.type"], "properties": {"@odata.type":
        {"type": "string", "enum": types.iter().map(|t| format!("#Microsoft.Media.{t}")).collect::<Vec<_>>()}}})
    };
    let content_key_policy = json!({"type": "object", "required": ["name", "options"], "properties": {
        "name": {"type": "string"}, "policyId": uuid_out(), "created": time_out(), "lastModified": time_out(),
        "description": {"type": "string"},
        "options": {"type": "array", "items": {"type": "object", "required": ["configuration", "restriction"], "properties": {
            "policyOptionId": uuid_out(), "name": {"type": "string"},
            "configuration": tagged(&configuration_types), "restriction": tagged(&restriction_types)}}}},
        "description": "Secrets (symmetric token keys, FairPlay credentials, upstream header values) are returned blank"});

    let configuration_in = json!({"oneOf": [
        {"type": "object", "required": ["@odata.type"], "description": "Clear Key / HLS AES-128: the key itself",
            "properties": {"@odata.type": odata("ContentKeyPolicyClearKeyConfiguration")}},
        {"type": "object", "required": ["@odata.type", "licenseServerUrl"],
            "description": "Widevine through an upstream license server (a widevineTemplate JSON string is also accepted)",
            "properties": {"@odata.type": odata("ContentKeyPolicyWidevineConfiguration"),
                "licenseServerUrl": url(), "licenseServerHeaders": license_server_headers(), "vendor": license_vendor()}},
        {"type": "object", "required": ["@odata.type", "licenseServerUrl"],
            "description": "PlayReady through an upstream license server (v3 `licenses` templates are also accepted)",
            "properties": {"@odata.type": odata("ContentKeyPolicyPlayReadyConfiguration"),
                "licenseServerUrl": url(), "licenseServerHeaders": license_server_headers(), "vendor": license_vendor()}},
        {"type": "object", "required": ["@odata.type", "licenseServerUrl", "rentalAndLeaseKeyType", "rentalDuration"],
            "description": "FairPlay through an upstream key server (ask, fairPlayPfx and fairPlayPfxPassword are also accepted)",
            "properties": {"@odata.type": odata("ContentKeyPolicyFairPlayConfiguration"),
                "licenseServerUrl": url(), "licenseServerHeaders": license_server_headers(), "vendor": license_vendor(),
                "rentalAndLeaseKeyType": {"type": "string", "enum": ["Undefined", "DualExpiry", "PersistentUnlimited", "PersistentLimited"]},
                "rentalDuration": {"type": "integer", "minimum": 0, "maximum": u32::MAX}}}]});
    let restriction_in = json!({"oneOf": [
        {"type": "object", "required": ["@odata.type"], "properties": {"@odata.type": odata("ContentKeyPolicyOpenRestriction")}},
        {"type": "object", "required": ["@odata.type", "issuer", "audience", "restrictionTokenType", "primaryVerificationKey"],
            "description": "Token restriction (RSA and X.509 keys and openIdConnectDiscoveryDocument are also accepted)",
            "properties": {"@odata.type": odata("ContentKeyPolicyTokenRestriction"),
                "issuer": text(2048), "audience": text(2048),
                "restrictionTokenType": {"type": "string", "enum": ["Jwt", "Swt"]},
                "primaryVerificationKey": symmetric_key(),
                "alternateVerificationKeys": {"type": "array", "maxItems": 16, "items": symmetric_key()},
                "requiredClaims": {"type": "array", "maxItems": 16, "items": {"type": "object", "required": ["claimType"],
                    "properties": {"claimType": text(256), "claimValue": opt(text(4096))}}}}}]});
    let content_key_policy_input = json!({"type": "object", "required": ["options"], "properties": {
        "description": opt(text(4096)),
        "policyId": opt(ignored(uuid_in())), "created": opt(ignored(time_in())), "lastModified": opt(ignored(time_in())),
        "options": {"type": "array", "minItems": 1, "maxItems": 32, "items": {"type": "object",
            "required": ["configuration", "restriction"], "properties": {
                "policyOptionId": opt(uuid_in()),
                "name": opt(text(260)), "configuration": configuration_in, "restriction": restriction_in}}}}});

    let streaming_policy = json!({"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "created": time_out(), "defaultContentKeyPolicyName": {"type": "string"},
        "envelopeEncryption": {"type": "object"}, "commonEncryptionCenc": {"type": "object"},
        "commonEncryptionCbcs": {"type": "object"}, "noEncryption": {"type": "object"}}});
    let envelope = json!({"type": "object", "properties": {"enabledProtocols": enabled_protocols(),
        "clearTracks": track_selections(), "contentKeys": policy_content_keys(),
        "customKeyAcquisitionUrlTemplate": opt(url())}});
    let cenc = json!({"type": "object", "properties": {"enabledProtocols": enabled_protocols(),
        "clearTracks": track_selections(), "contentKeys": policy_content_keys(),
        "drm": opt(json!({"type": "object", "properties": {"playReady": play_ready_drm(), "widevine": drm_url_config()}})),
        "clearKeyEncryptionConfiguration": clear_key_config()}});
    let cbcs = json!({"type": "object", "properties": {"enabledProtocols": enabled_protocols(),
        "clearTracks": track_selections(), "contentKeys": policy_content_keys(),
        "drm": opt(json!({"type": "object", "properties": {
            "fairPlay": opt(json!({"type": "object", "properties": {"customLicenseAcquisitionUrlTemplate": opt(url()),
                "allowPersistentLicense": {"type": "boolean"}}})),
            "playReady": play_ready_drm(), "widevine": drm_url_config()}})),
        "clearKeyEncryptionConfiguration": clear_key_config()}});
    let no_encryption =
        json!({"type": "object", "properties": {"enabledProtocols": enabled_protocols()}});
    let encrypted = [
        "envelopeEncryption",
        "commonEncryptionCenc",
        "commonEncryptionCbcs",
    ];
    let streaming_policy_input = json!({"type": "object",
        "description": "Exactly one of: noEncryption alone, or one or more of envelopeEncryption, commonEncryptionCenc, commonEncryptionCbcs",
        "properties": {"defaultContentKeyPolicyName": opt(name_schema()), "created": opt(ignored(time_in())),
            "noEncryption": no_encryption, "envelopeEncryption": envelope,
            "commonEncryptionCenc": cenc, "commonEncryptionCbcs": cbcs},
        "oneOf": [
            {"required": ["noEncryption"], "not": {"anyOf": encrypted.iter().map(|e| json!({"required": [e]})).collect::<Vec<_>>()}},
            {"anyOf": encrypted.iter().map(|e| json!({"required": [e]})).collect::<Vec<_>>(), "not": {"required": ["noEncryption"]}}]});

    let locator_key_type = json!({"type": "string", "enum": ["CommonEncryptionCenc", "CommonEncryptionCbcs", "EnvelopeEncryption"]});
    let streaming_locator = json!({"type": "object", "required": ["name", "assetName", "streamingPolicyName", "contentKeys"],
        "properties": {"name": {"type": "string"}, "assetName": {"type": "string"}, "streamingPolicyName": {"type": "string"},
            "defaultContentKeyPolicyName": {"type": "string"},
            "contentKeys": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
                "id": uuid_out(), "type": locator_key_type, "labelReferenceInStreamingPolicy": {"type": "string"},
                "policyName": {"type": "string"}}}},
            "startTime": time_out(), "endTime": time_out(), "streamingLocatorId": uuid_out(),
            "alternativeMediaId": {"type": "string"}, "created": time_out(),
            "keyRotation": {"type": "object", "properties": {
                "periodSegments": {"type": "integer"}, "periodSeconds": {"type": "integer"}}}}});
    // Exactly one of the two, in range: a 400 names `keyRotation.periodSegments`
    // (or `periodSeconds`, or `keyRotation` for none or both).
    let key_rotation_input = json!({"type": "object", "additionalProperties": false,
        "description": "Key rotation (castguard extension): a new key every periodSegments segments or every periodSeconds seconds (rounded to whole segments); later periods' keys are derived from the locator's keys and stored as content keys named period-<kid> under the same content key policy",
        "properties": {
            "periodSegments": {"type": "integer", "minimum": 1, "maximum": keys::model::MAX_PERIOD_SEGMENTS},
            "periodSeconds": {"type": "integer", "minimum": 1, "maximum": keys::model::MAX_PERIOD_SECONDS}},
        "oneOf": [{"required": ["periodSegments"], "not": {"required": ["periodSeconds"]}},
                  {"required": ["periodSeconds"], "not": {"required": ["periodSegments"]}}]});
    let streaming_locator_input = json!({"type": "object", "required": ["assetName", "streamingPolicyName"],
        "description": "contentKeys name stored keys by keyId (inline values are refused). `startTime` (RFC 3339) is also accepted and must be before endTime.",
        "properties": {"assetName": name_schema(), "streamingPolicyName": name_schema(),
            "defaultContentKeyPolicyName": opt(name_schema()),
            "contentKeys": {"type": "array", "maxItems": 32, "items": {"type": "object", "required": ["id"], "properties": {
                "id": uuid_in(), "type": opt(locator_key_type.clone()),
                "labelReferenceInStreamingPolicy": opt(text(260)),
                "policyName": ignored(json!({"type": ["string", "null"]})),
                "tracks": ignored(json!({}))}}},
            "created": opt(ignored(time_in())),
            "endTime": opt(time_in()),
            "streamingLocatorId": opt(uuid_in()), "alternativeMediaId": opt(text(260)),
            "keyRotation": {"anyOf": [key_rotation_input, {"type": "null"}]}}});

    let list_paths = json!({"type": "object", "required": ["streamingPaths", "downloadPaths"], "properties": {
        "streamingPaths": {"type": "array", "items": {"type": "object", "required": ["streamingProtocol", "encryptionScheme", "paths"],
            "properties": {"streamingProtocol": {"type": "string", "enum": ["Dash", "Hls"]},
                "encryptionScheme": {"type": "string", "enum": ["NoEncryption", "EnvelopeEncryption", "CommonEncryptionCenc", "CommonEncryptionCbcs"]},
                "paths": {"type": "array", "items": {"type": "string"}}}}},
        "downloadPaths": {"type": "array", "items": {"type": "string"}}}});
    let list_keys = json!({"type": "object", "required": ["contentKeys"], "properties": {
        "contentKeys": {"type": "array", "items": {"type": "object", "required": ["id", "type", "keyName"], "properties": {
            "id": uuid_out(), "type": locator_key_type, "keyName": {"type": "string"},
            "labelReferenceInStreamingPolicy": {"type": "string"}, "policyName": {"type": "string"},
            "value": {"type": "string", "description": "base64, only with includeValues=true"}}}}}});

    let token = json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{16,128}$",
        "description": "Part of every ingest URL; 128 random bits are generated when absent"});
    let live_state = json!({"type": "string", "enum": ["Stopped", "Starting", "Running", "Stopping"]});
    let live_event = json!({"type": "object", "required": ["name", "input", "resourceState"], "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "input": {"type": "object", "required": ["streamingProtocol"], "properties": {
            "streamingProtocol": {"type": "string", "enum": ["FragmentedMP4", "RTMP"]},
            "accessToken": {"type": "string"},
            "endpoints": {"type": "array", "items": {"type": "object", "required": ["protocol", "url"],
                "properties": {"protocol": {"type": "string"}, "url": {"type": "string"}}}},
            "basicAuth": {"type": "object", "required": ["username"], "properties": {"username": {"type": "string"}},
                "description": "Basic auth on the ingest endpoints (the password is never shown)"}}},
        "resourceState": live_state, "created": time_out(), "lastModified": time_out()}});
    let live_event_input = json!({"type": "object", "required": ["input"],
        "description": "Writable fields; `name` comes from the URL; `resourceState` (start/stop) and `input.endpoints` are the server's",
        "properties": {"description": opt(text(4096)),
            "input": {"type": "object", "required": ["streamingProtocol"], "properties": {
                "streamingProtocol": {"type": "string", "enum": ["FragmentedMP4"],
                    "description": "CMAF over HTTP POST/PUT (DASH-IF Live Media Ingest); `RTMP` is taken too (not listed here) when the server runs with --rtmp-listen, else refused with a 400"},
                "accessToken": opt(token),
                "endpoints": ignored(json!({"type": "array", "items": {"type": "object", "required": ["protocol", "url"],
                    "properties": {"protocol": {"type": "string"}, "url": {"type": "string"}}}})),
                "basicAuth": opt(json!({"type": "object", "required": ["username"],
                    "description": "HTTP Basic credentials every ingest request must carry besides the access token. \
                        The password is write-only (stored as a salted hash); without it a PUT keeps the stored one \
                        (while none was ever set, every ingest request is refused)",
                    "properties": {
                        "username": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^:\\x00-\\x1f\\x7f]+$"},
                        "password": opt(json!({"type": "string", "minLength": 8, "maxLength": 256, "pattern": "^[^\\x00-\\x1f\\x7f]+$"}))}}))}}}});
    let window = |what: &str| {
        json!({"type": "string", "pattern": "^PT([1-9]|[1-9][0-9])M$",
        "description": format!("{what}: an ISO 8601 duration from PT1M to PT25H (e.g. PT1H, PT30M)")})
    };
    let live_output = json!({"type": "object", "required": ["name", "liveEventName", "assetName", "archiveWindowLength"], "properties": {
        "name": {"type": "string"}, "liveEventName": {"type": "string"}, "assetName": {"type": "string"},
        "archiveWindowLength": {"type": "string"}, "rewindWindowLength": {"type": "string"},
        "manifestName": {"type": "string"}, "description": {"type": "string"},
        "created": time_out(), "lastModified": time_out()}});
    let live_output_input = json!({"type": "object", "required": ["liveEventName", "assetName", "archiveWindowLength"],
        "description": "Writable fields; `name` comes from the URL. The live event and the asset must exist, and the event must be stopped",
        "properties": {"liveEventName": name_schema(), "assetName": name_schema(),
            "archiveWindowLength": window("How much of the stream the asset keeps"),
            "rewindWindowLength": opt(window("How far back viewers may seek; at most archiveWindowLength")),
            "manifestName": opt(name_schema()), "description": opt(text(4096))}});
    // Every PUT also takes the v3 resource envelope (`routes::entity::unwrap_envelope`),
    // and refuses fields it does not know (`routes::entity::prepare`).
    let enveloped = |mut schema: Value| {
        closed(&mut schema);
        let note = "The body may also be the v3 resource envelope as the cloud service exported it: \
            these fields inside `properties`, beside `name` (the URL's), `type` \
            (`Microsoft.Media/mediaservices/<collection>`), and the ignored `id` and `systemData`; \
            any other key beside `properties` is refused.";
        let text = match schema["description"].as_str() {
            Some(d) => format!("{}. {note}", d.trim_end_matches('.')),
            None => note.to_string(),
        };
        schema["description"] = Value::from(text);
        schema
    };
    let (asset_input, content_key_input, content_key_policy_input) = (
        enveloped(asset_input),
        enveloped(content_key_input),
        enveloped(content_key_policy_input),
    );
    let (streaming_policy_input, streaming_locator_input) = (
        enveloped(streaming_policy_input),
        enveloped(streaming_locator_input),
    );
    let (live_event_input, live_output_input) = (enveloped(live_event_input), enveloped(live_output_input));

    json!({
        "Error": error,
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
        "Mp4Upload": {"type": "string", "format": "binary"},
        "Asset": asset, "AssetInput": asset_input, "AssetList": list_of("Asset"),
        "ContentKey": content_key, "ContentKeyInput": content_key_input, "ContentKeyList": list_of("ContentKey"),
        "ContentKeyPolicy": content_key_policy, "ContentKeyPolicyInput": content_key_policy_input,
        "ContentKeyPolicyList": list_of("ContentKeyPolicy"),
        "StreamingPolicy": streaming_policy, "StreamingPolicyInput": streaming_policy_input,
        "StreamingPolicyList": list_of("StreamingPolicy"),
        "StreamingLocator": streaming_locator, "StreamingLocatorInput": streaming_locator_input,
        "StreamingLocatorList": list_of("StreamingLocator"),
        "ListPathsResponse": list_paths, "ListContentKeysResponse": list_keys,
        "ImportRequest": import_request(), "ImportResponse": import_response(),
        "CpixDocument": {"type": "string", "description": "A DASH-IF CPIX 2.3 XML document (urn:dashif:org:cpix)"},
        "Certificate": {"type": "string", "format": "binary", "description": "An X.509 certificate, PEM or DER"},
        "ImportCpixResponse": import_cpix_response(),
        "LiveEvent": live_event, "LiveEventInput": live_event_input, "LiveEventList": list_of("LiveEvent"),
        "LiveOutput": live_output, "LiveOutputInput": live_output_input, "LiveOutputList": list_of("LiveOutput"),
    })
}

/// A read-only field a PUT accepts (as GET showed it) and ignores. Fields
/// the server does not read at all take any value (`{}`): a schema that
/// refused some would call their acceptance a bug.
fn ignored(mut schema: Value) -> Value {
    schema["description"] = json!("read-only: accepted as GET shows it, and ignored");
    schema
}

/// Every object schema with `properties` and no rule for other keys gets
/// `additionalProperties: false`: the server refuses unknown fields by name.
fn closed(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (k, v) in m.iter_mut() {
                // `properties` maps names to schemas; walk the schemas.
                if k == "properties" {
                    if let Value::Object(props) = v {
                        props.values_mut().for_each(closed);
                    }
                } else {
                    closed(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(closed),
        _ => {}
    }
}

fn import_request() -> Value {
    let collections = [
        "assets",
        "content-key-policies",
        "streaming-policies",
        "content-keys",
        "streaming-locators",
    ];
    json!({"type": "object", "required": ["resources"], "additionalProperties": false,
        "description": "Resources of an account export, each an entity body (flat or the v3 envelope) with its `name`. \
            Written in one transaction in dependency order; a locator's `contentKeys[].value` (and `policyName`) make content keys.",
        "properties": {"resources": {"type": "array", "maxItems": routes::import::MAX_IMPORT_RESOURCES,
            "items": {"type": "object", "required": ["collection", "resource"], "additionalProperties": false, "properties": {
                "collection": {"type": "string", "enum": collections},
                "source": {"type": "string", "minLength": 1, "maxLength": 1024, "description": "Where it came from (a file name), for errors"},
                "resource": {"type": "object", "required": ["name"]}}}}}})
}

fn import_cpix_response() -> Value {
    json!({"type": "object", "required": ["dryRun", "keys", "encrypted"], "properties": {
        "dryRun": {"type": "boolean"},
        "keys": {"type": "array", "items": {"type": "object", "required": ["keyId", "name", "action"], "properties": {
            "keyId": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
            "action": {"type": "string", "enum": ["create", "exists"]},
            "label": {"type": "string"},
            "notKept": {"type": "array", "items": {"type": "string"}}}}},
        "encrypted": {"type": "boolean", "description": "The keys were encrypted for castguard's recipient certificate"},
        "signatures": {"type": "array", "description": "The document's XML signatures, all verified", "items": {"type": "object",
            "required": ["covers", "signer"], "properties": {
            "covers": {"type": "array", "items": {"type": "string"}, "description": "CPIX (the whole document) or a list's element name"},
            "signer": {"type": "object", "required": ["subject", "sha256", "trusted"], "properties": {
                "subject": {"type": "string"}, "sha256": {"type": "string", "description": "SHA-256 of the certificate's DER, hex"},
                "trusted": {"type": "boolean", "description": "The certificate is the trustedSigner given"}}}}}}}})
}

fn import_response() -> Value {
    json!({"type": "object", "required": ["dryRun", "resources"], "properties": {
        "dryRun": {"type": "boolean"},
        "resources": {"type": "array", "items": {"type": "object", "required": ["collection", "name", "source", "action"], "properties": {
            "collection": {"type": "string"}, "name": {"type": "string"}, "source": {"type": "string"},
            "action": {"type": "string", "enum": ["create", "replace", "skip"]},
            "value": {"type": "object"},
            "notKept": {"type": "array", "items": {"type": "object", "required": ["field", "reason"], "properties": {
                "field": {"type": "string"}, "reason": {"type": "string"}}}}}}}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_ref_resolves_and_every_operation_has_parameters() {
        let doc = document();
        let mut all = Vec::new();
        refs(doc, &mut all);
        assert!(all.len() > 20, "{}", all.len());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected ref {r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{r} does not resolve"
            );
        }
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 26);
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let params = op["parameters"].as_array().map(Vec::len).unwrap_or(0);
                let want = path.matches('{').count()
                    + usize::from(
                        method == "get"
                            && !path.contains('{')
                            && path != "/api/v1/openapi.json"
                            && path != "/api/v1/cpix/recipient-certificate",
                    ) * 2;
                assert!(params >= want, "{method} {path}: {params} parameters");
                assert!(
                    op["responses"].get("401").is_some(),
                    "{method} {path} does not document 401"
                );
                assert!(
                    op["responses"].get("429").is_some(),
                    "{method} {path} does not document 429"
                );
            }
        }
    }

    #[test]
    fn name_pattern_matches_the_model_rule() {
        // The schema's pattern and `validate_name` agree on the edges.
        assert_eq!(name_schema()["pattern"], "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,259}$");
        assert!(keys::model::validate_name("n", &"a".repeat(260)).is_ok());
        assert!(keys::model::validate_name("n", &"a".repeat(261)).is_err());
    }
}
