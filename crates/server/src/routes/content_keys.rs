//! `/api/v1/content-keys`: content keys (KID, 16-byte value, type, label,
//! policy). Responses never carry the value; it is generated from the OS
//! CSPRNG when a create leaves it out, and kept when a replace leaves it out
//! (a PUT of the same metadata must not rotate a key in use). The value
//! leaves the server only through `list-content-keys?includeValues=true`.

use super::{ListPage, delete_status, put_status};
use crate::error::ApiResult;
use crate::extract::{EntityName, JsonObject, Paging};
use crate::openapi::schemas;
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keys::model::{ContentKey, ContentKeyInput};
use store::StoreError;

#[utoipa::path(get, path = "/api/v1/content-keys", tag = "content-keys", operation_id = "listContentKeys",
    params(schemas::Top, schemas::SkipToken),
    responses((status = 200, description = "One page of content keys (without values)", body = schemas::ContentKeyList),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error)))]
pub async fn list(
    _: Admin,
    State(s): State<AppState>,
    paging: Paging,
) -> ApiResult<Json<ListPage<ContentKey>>> {
    let page = s.store().list_content_keys(&paging.page()).await?;
    Ok(Json(ListPage::new("content-keys", &paging, page)))
}

#[utoipa::path(get, path = "/api/v1/content-keys/{name}", tag = "content-keys", operation_id = "getContentKey",
    params(schemas::Name),
    responses((status = 200, description = "The content key (without its value)", body = schemas::ContentKey),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn get(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<ContentKey>> {
    Ok(Json(s.store().get_content_key(&name).await?))
}

#[utoipa::path(put, path = "/api/v1/content-keys/{name}", tag = "content-keys", operation_id = "putContentKey",
    params(schemas::Name), request_body = schemas::ContentKeyInput,
    responses((status = 200, description = "Replaced", body = schemas::ContentKey),
        (status = 201, description = "Created", body = schemas::ContentKey),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 404, body = schemas::Error), (status = 409, body = schemas::Error), (status = 413, body = schemas::Error)))]
pub async fn put(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<ContentKey>)> {
    let mut input: ContentKeyInput = body.with_name(&name)?.parse()?;
    if input.key_id.is_none() || input.value.is_none() {
        match s.store().get_content_key_with_value(&name).await {
            Ok(existing) => {
                let same_kid = input.key_id.is_none_or(|k| k == existing.key.key_id);
                input.key_id.get_or_insert(existing.key.key_id);
                // A new KID with no value is a new key: generate it.
                if same_kid && input.value.is_none() {
                    input.value = Some(existing.value);
                }
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let key = input.into_content_key()?;
    let put = s.store().put_content_key(key).await?;
    Ok((put_status(put.created), Json(put.value)))
}

#[utoipa::path(delete, path = "/api/v1/content-keys/{name}", tag = "content-keys", operation_id = "deleteContentKey",
    params(schemas::Name),
    responses((status = 204, description = "Deleted"), (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 404, body = schemas::Error), (status = 409, description = "A streaming locator uses the key", body = schemas::Error)))]
pub async fn delete(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<StatusCode> {
    delete_status(
        s.store().delete_content_key(&name).await?,
        "content key",
        &name,
    )
}
