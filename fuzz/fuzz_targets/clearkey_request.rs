//! The W3C Clear Key license request body of `POST /keys/v1/clearkey`
//! (EME §9.1.3: `{"kids":["base64url"],"type":"temporary"}`), parsed by
//! [`server::delivery::keys::ClearKeyRequest::parse`].
//!
//! Checks: never a panic; an accepted request has 1 to 32 key IDs and type
//! `temporary`; writing it back as the JSON a browser sends parses to the
//! same request.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use server::delivery::keys::{ClearKeyRequest, MAX_CLEARKEY_KIDS};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = ClearKeyRequest::parse(data) else { return };
    assert!(!req.kids.is_empty() && req.kids.len() <= MAX_CLEARKEY_KIDS);
    assert_eq!(req.license_type, "temporary");
    let kids: Vec<String> = req
        .kids
        .iter()
        .map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.as_bytes()))
        .collect();
    let body = serde_json::json!({"kids": kids, "type": req.license_type});
    let again = ClearKeyRequest::parse(body.to_string().as_bytes()).expect("re-parsing a written request");
    assert_eq!(again, req);
});
