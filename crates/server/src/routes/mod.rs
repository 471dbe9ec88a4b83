//! The `/api/v1` routes, one module per entity.
//!
//! Every entity has the same four operations: `PUT /{name}` creates or
//! replaces (201 created, 200 replaced), `GET /{name}`, `GET /` lists one page
//! in name order (`$top`, `$skiptoken`, v3's `@odata.nextLink`), and
//! `DELETE /{name}` (204; 404 when missing; 409 while referenced). They are
//! written once, in `entity`; an entity's module holds its hooks (how a PUT
//! body becomes what the store writes) and its other operations.

#[macro_use]
mod entity;
pub(crate) mod assets;
pub(crate) mod content_key_policies;
pub(crate) mod content_keys;
pub(crate) mod cpix;
pub(crate) mod import;
pub(crate) mod live_events;
pub(crate) mod live_outputs;
pub mod speke;
pub mod player;
pub mod streaming_locators;
pub(crate) mod streaming_policies;

pub use assets::{ASSETS_DIR, ingest_file, ingest_files, ingest_title};

use crate::AppState;
use crate::extract::Paging;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::Serialize;

pub(crate) fn api_router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(crate::openapi::serve))
        .merge(assets::routes())
        .merge(content_keys::routes())
        .merge(content_key_policies::routes())
        .merge(streaming_policies::routes())
        .merge(streaming_locators::routes())
        .merge(live_events::routes())
        .merge(live_outputs::routes())
        .route("/live-events/{name}/start", post(live_events::start))
        .route("/live-events/{name}/stop", post(live_events::stop))
        .route(
            "/assets/{name}/content",
            put(assets::upload).layer(assets::upload_limit()),
        )
        .route(
            "/assets/{name}/files/{file}",
            put(assets::put_file)
                .delete(assets::delete_file)
                .layer(assets::upload_limit()),
        )
        .route(
            "/content-key-policies/{name}/get-policy-properties-with-secrets",
            post(import::get_with_secrets),
        )
        .route(
            "/import",
            post(import::import).layer(axum::extract::DefaultBodyLimit::max(
                import::IMPORT_BODY_LIMIT,
            )),
        )
        .route(
            "/cpix/recipient-certificate",
            get(cpix::recipient_certificate),
        )
        .route(
            "/import/cpix",
            post(cpix::import).layer(axum::extract::DefaultBodyLimit::max(cpix::CPIX_BODY_LIMIT)),
        )
        .route(
            "/streaming-locators/{name}/cpix",
            get(cpix::export_plain)
                .post(cpix::export_encrypted)
                .layer(axum::extract::DefaultBodyLimit::max(cpix::CPIX_BODY_LIMIT)),
        )
        .route(
            "/streaming-locators/{name}/list-paths",
            post(streaming_locators::list_paths),
        )
        .route(
            "/streaming-locators/{name}/list-content-keys",
            post(streaming_locators::list_content_keys),
        )
}

/// One page of a listing, v3 style.
#[derive(Debug, Serialize)]
pub struct ListPage<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

impl<T> ListPage<T> {
    /// `collection` is the path under `/api/v1` (`assets`, `content-keys`, ...).
    /// Names are `[A-Za-z0-9_.-]`, so the link needs no escaping.
    pub(crate) fn new(collection: &str, paging: &Paging, page: store::PageResult<T>) -> Self {
        let limit = paging.page().effective_limit();
        let next_link = page
            .next_after
            .map(|after| format!("/api/v1/{collection}?$top={limit}&$skiptoken={after}"));
        ListPage {
            value: page.items,
            next_link,
        }
    }
}

/// 201 for a new entity, 200 for a replaced one.
pub(crate) fn put_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// 204 when deleted, 404 when there was nothing.
pub(crate) fn delete_status(deleted: bool, kind: &str, name: &str) -> crate::ApiResult<StatusCode> {
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(crate::ApiError::NotFound {
            message: format!("{kind} '{name}' not found"),
            field: None,
        })
    }
}
