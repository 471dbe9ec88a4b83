//! JSON import of the management API's entities — content key policies,
//! streaming policies, streaming locators, content keys — through the same
//! steps as `PUT /api/v1/{entities}/{name}`: the body must be a JSON object
//! ([`server::extract::JsonObject`]), its `name` agrees with the URL's, it
//! is deserialised with JSON-path errors (`@odata.type` checks, integral
//! floats as integers), then [`keys::model::Validate`] runs.
//!
//! The first input byte picks the entity, the rest is the body. An entity
//! that passes validation round-trips: written as JSON (what the store keeps
//! and the API returns) and imported again, it is equal and still valid.
//! Content keys are created the way the route does when the store has no key
//! of that name (missing id and value generated).
#![no_main]

use keys::model::{ContentKeyInput, ContentKeyWithValue, ContentKeyPolicy, StreamingLocator, StreamingPolicy, Validate};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use server::extract::JsonObject;

const NAME: &str = "fuzz-entity_1.0";

fn import<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    let serde_json::Value::Object(map) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    JsonObject(map).with_name(NAME).ok()?.parse::<T>().ok()
}

fn round_trip<T>(body: &[u8])
where
    T: DeserializeOwned + Serialize + Validate + PartialEq + std::fmt::Debug,
{
    let Some(v) = import::<T>(body) else { return };
    if v.validate().is_err() {
        return;
    }
    let json = serde_json::to_vec(&v).expect("writing a valid entity");
    let again = import::<T>(&json).expect("importing our own JSON");
    assert_eq!(again, v, "import(write(x)) != x");
    again.validate().expect("a written valid entity stays valid");
    let stored: T = keys::model::from_json(std::str::from_utf8(&json).expect("utf-8")).expect("reading our own JSON");
    assert_eq!(stored, v);
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else { return };
    match kind % 4 {
        0 => round_trip::<ContentKeyPolicy>(body),
        1 => round_trip::<StreamingPolicy>(body),
        2 => round_trip::<StreamingLocator>(body),
        _ => {
            // Keys: left-out id and value are generated, then validated;
            // the store keeps the key with its value as JSON.
            let Some(input) = import::<ContentKeyInput>(body) else { return };
            let Ok(key) = input.into_content_key() else { return };
            let json = serde_json::to_string(&key).expect("writing a valid key");
            let stored: ContentKeyWithValue = keys::model::from_json(&json).expect("reading our own key JSON");
            assert_eq!(stored, key);
        }
    }
});
