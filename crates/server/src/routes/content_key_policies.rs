//! `/api/v1/content-key-policies`: who may receive a key, in which license
//! format (v3 `ContentKeyPolicy` with `options[]`). Responses blank every
//! secret (symmetric token keys, FairPlay credentials, upstream header
//! values) as v3 does outside `GetPolicyPropertiesWithSecrets`.

use super::{ListPage, delete_status, put_status};
use crate::error::ApiResult;
use crate::extract::{EntityName, JsonObject, Paging};
use crate::openapi::schemas;
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keys::model::{ContentKeyPolicy, Validate};

#[utoipa::path(get, path = "/api/v1/content-key-policies", tag = "content-key-policies", operation_id = "listContentKeyPolicies",
    params(schemas::Top, schemas::SkipToken),
    responses((status = 200, description = "One page of policies (secrets blanked)", body = schemas::ContentKeyPolicyList),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error)))]
pub async fn list(
    _: Admin,
    State(s): State<AppState>,
    paging: Paging,
) -> ApiResult<Json<ListPage<ContentKeyPolicy>>> {
    let mut page = s.store().list_content_key_policies(&paging.page()).await?;
    page.items = page
        .items
        .iter()
        .map(ContentKeyPolicy::without_secrets)
        .collect();
    Ok(Json(ListPage::new("content-key-policies", &paging, page)))
}

#[utoipa::path(get, path = "/api/v1/content-key-policies/{name}", tag = "content-key-policies", operation_id = "getContentKeyPolicy",
    params(schemas::Name),
    responses((status = 200, description = "The policy (secrets blanked)", body = schemas::ContentKeyPolicy),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn get(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<ContentKeyPolicy>> {
    Ok(Json(
        s.store()
            .get_content_key_policy(&name)
            .await?
            .without_secrets(),
    ))
}

#[utoipa::path(put, path = "/api/v1/content-key-policies/{name}", tag = "content-key-policies", operation_id = "putContentKeyPolicy",
    params(schemas::Name), request_body = schemas::ContentKeyPolicyInput,
    responses((status = 200, description = "Replaced", body = schemas::ContentKeyPolicy),
        (status = 201, description = "Created", body = schemas::ContentKeyPolicy),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 409, body = schemas::Error), (status = 413, body = schemas::Error)))]
pub async fn put(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<ContentKeyPolicy>)> {
    let policy: ContentKeyPolicy = body.with_name(&name)?.parse()?;
    policy.validate()?;
    let put = s.store().put_content_key_policy(policy).await?;
    Ok((put_status(put.created), Json(put.value.without_secrets())))
}

#[utoipa::path(delete, path = "/api/v1/content-key-policies/{name}", tag = "content-key-policies", operation_id = "deleteContentKeyPolicy",
    params(schemas::Name),
    responses((status = 204, description = "Deleted"), (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 404, body = schemas::Error), (status = 409, description = "A key, streaming policy or locator uses the policy", body = schemas::Error)))]
pub async fn delete(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<StatusCode> {
    delete_status(
        s.store().delete_content_key_policy(&name).await?,
        "content key policy",
        &name,
    )
}
