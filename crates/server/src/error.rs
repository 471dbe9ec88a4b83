//! The one error type of the HTTP layer and its JSON shape.
//!
//! Every failure answers `{"error":{"code","message","field"?}}` with the
//! status the management API promises (issue 3, items 4–6): 400 for a body or
//! parameter that breaks a rule (naming the JSON path of the field), 401 for a
//! missing or wrong admin token, 404 for an unknown entity (also when a body
//! refers to one: the v3 service answers `NotFound` there too), 409 when a
//! write would break a rule that involves other entities, 413 for an
//! oversized body, and 500 with a generic message for anything else; the
//! detail of a 500 goes to the tracing log only. Store and model errors never
//! carry key material (they name fields, entities and lengths), so their text
//! is safe to return.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keys::model::ValidationError;
use serde::Serialize;
use store::StoreError;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field or parameter breaks a rule; `field` is its JSON path.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// No or wrong admin token. The message never says which.
    #[error("missing or invalid admin token")]
    Unauthorized,
    #[error("{message}")]
    NotFound {
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    Conflict { message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// Too many wrong admin tokens from this client: 429 with
    /// `Retry-After` in seconds.
    #[error("too many failed authentications; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    /// Uploaded media that the packager refused.
    #[error("{message}")]
    BadMedia { message: String },
    /// Anything the caller cannot fix; the detail is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::BadMedia { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "invalid_request",
            ApiError::BadMedia { .. } => "invalid_media",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::BadRequest {
            field: e.field.clone(),
            message: e.problem.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound {
                message: e.to_string(),
                field: None,
            },
            StoreError::InvalidReference { ref field, .. } => ApiError::NotFound {
                field: Some(field.clone()),
                message: e.to_string(),
            },
            StoreError::Conflict { .. } => ApiError::Conflict {
                message: e.to_string(),
            },
            StoreError::Invalid { source, .. } => source.into(),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, field) = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                ("internal server error".to_string(), None)
            }
            ApiError::BadRequest { field, message } => (
                if field.is_empty() {
                    message.clone()
                } else {
                    format!("{field}: {message}")
                },
                Some(field.as_str()),
            ),
            ApiError::NotFound { message, field } => (message.clone(), field.as_deref()),
            other => (other.to_string(), None),
        };
        let mut resp = (
            status,
            Json(Body {
                error: Detail {
                    code: self.code(),
                    message,
                    field,
                },
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { retry_after } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use keys::model::Problem;

    #[test]
    fn validation_error_names_the_field() {
        let e: ApiError = ValidationError {
            field: "options[0].restriction.issuer".into(),
            problem: Problem::Empty,
        }
        .into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        match e {
            ApiError::BadRequest { field, .. } => {
                assert_eq!(field, "options[0].restriction.issuer")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let resp = ApiError::internal("disk on fire at /secret/path").into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
