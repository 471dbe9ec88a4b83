//! Request extractors that turn every malformed input into an [`ApiError`]
//! naming the field, instead of axum's plain-text rejections.
//!
//! - [`EntityName`]: the `{name}` path segment, checked with the model's name
//!   rule (`[A-Za-z0-9_.-]{1,260}`, no leading `.`);
//! - [`JsonObject`]: a JSON object body read under the route's body limit
//!   (413 beyond it), parsed with every key unique ([`crate::json`]: a
//!   duplicate is a 400 naming its path), then deserialised field by field
//!   so a bad value is reported by its JSON path
//!   (`options[0].restriction.issuer`);
//! - [`Paging`]: the v3 paging parameters `$top` and `$skiptoken`.

use crate::AppState;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The `{name}` of the entity a request is about.
#[derive(Debug, Clone)]
pub struct EntityName(pub String);

impl FromRequestParts<AppState> for EntityName {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("name", e.body_text()))?;
        keys::model::validate_name("name", &name)?;
        Ok(EntityName(name))
    }
}

/// A JSON object request body.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Before the body is read: no `100 Continue` for a body refused anyway.
        if crate::limits::refuse_before_continue(req.headers(), crate::JSON_BODY_LIMIT as u64) {
            return Err(ApiError::PayloadTooLarge {
                limit: crate::JSON_BODY_LIMIT as u64,
            });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: crate::JSON_BODY_LIMIT as u64,
                }
            } else {
                ApiError::bad_request("", format!("unreadable request body: {}", e.body_text()))
            }
        })?;
        match crate::json::parse_unique(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::bad_request(
                "",
                "the request body must be a JSON object",
            )),
            Err(crate::json::JsonError::DuplicateKey { path, key }) => Err(
                ApiError::bad_request(path, format!("duplicate key '{key}'")),
            ),
            Err(e) => Err(ApiError::bad_request(
                "",
                format!("the request body is {e}"),
            )),
        }
    }
}

impl JsonObject {
    /// Makes the body's `name` agree with the URL: absent means the URL's,
    /// a different one is a 400 on `name`.
    pub fn with_name(mut self, name: &str) -> Result<Self, ApiError> {
        match self.0.get("name") {
            None | Some(Value::Null) => {
                self.0
                    .insert("name".into(), Value::String(name.to_string()));
            }
            Some(Value::String(n)) if n == name => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "name",
                    "must be absent or equal to the name in the URL",
                ));
            }
        }
        Ok(self)
    }

    /// Deserialises into `T`, reporting the JSON path of the first bad value.
    /// serde's messages name types and lengths, not values (see
    /// `keys::model::JsonError`), so they are safe to return.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        let mut body = Value::Object(self.0);
        check_odata_types(&body, &mut String::new())?;
        integral_floats_to_integers(&mut body);
        serde_path_to_error::deserialize(body).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            ApiError::bad_request(field, e.inner().to_string())
        })
    }
}

/// JSON has one number type: `3600.0` is the integer 3600 to JSON Schema
/// (and so to the OpenAPI document and its clients), but serde refuses a
/// float where the model has an integer. Integral floats that fit an `i64`
/// become integers before typed parsing; other floats stay as they are.
fn integral_floats_to_integers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(m) => m.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// serde's internally tagged enums also take a variant *index* as the tag
/// (`"@odata.type": 0` would select the first variant); the v3 model only
/// has type names, so any non-string `@odata.type` is refused up front.
fn check_odata_types(v: &Value, path: &mut String) -> Result<(), ApiError> {
    let len = path.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                if k == "@odata.type" && !child.is_string() {
                    return Err(ApiError::bad_request(
                        path.clone(),
                        "must be a type name string",
                    ));
                }
                check_odata_types(child, path)?;
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                check_odata_types(child, path)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// `?$top=N&$skiptoken=NAME`: at most `N` (1..=1000) entities named after `NAME`.
#[derive(Debug, Default, Clone)]
pub struct Paging {
    pub top: Option<u32>,
    pub skip_token: Option<String>,
}

#[derive(Deserialize)]
struct RawPaging {
    #[serde(rename = "$top")]
    top: Option<String>,
    #[serde(rename = "$skiptoken")]
    skip_token: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawPaging>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("", e.body_text()))?;
        let top = match raw.top {
            None => None,
            Some(t) => match t.parse::<u32>() {
                Ok(n) if (1..=store::MAX_PAGE_LIMIT).contains(&n) => Some(n),
                _ => {
                    return Err(ApiError::bad_request(
                        "$top",
                        format!("must be an integer from 1 to {}", store::MAX_PAGE_LIMIT),
                    ));
                }
            },
        };
        if let Some(s) = &raw.skip_token {
            keys::model::validate_name("$skiptoken", s)?;
        }
        Ok(Paging {
            top,
            skip_token: raw.skip_token,
        })
    }
}

impl Paging {
    pub fn page(&self) -> store::Page {
        store::Page {
            after: self.skip_token.clone(),
            limit: Some(self.top.unwrap_or(store::DEFAULT_PAGE_LIMIT)),
        }
    }
}

/// A boolean query flag given as `true` or `false`.
pub fn parse_flag(field: &str, v: Option<&str>) -> Result<bool, ApiError> {
    match v {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::bad_request(field, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_become_integers_others_stay() {
        let mut v = serde_json::json!({"a": 11893161.0, "b": [2.5, -3.0, 1e300], "c": {"d": 7}});
        integral_floats_to_integers(&mut v);
        assert_eq!(v, serde_json::json!({"a": 11893161, "b": [2.5, -3, 1e300], "c": {"d": 7}}));
    }
}
