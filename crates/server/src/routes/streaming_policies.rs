//! `/api/v1/streaming-policies`: which protocols with which protection. The
//! four predefined policies are listed with the others and are read-only
//! (the store refuses to replace or delete them: 409).

use super::{ListPage, delete_status, put_status};
use crate::error::ApiResult;
use crate::extract::{EntityName, JsonObject, Paging};
use crate::openapi::schemas;
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keys::model::{StreamingPolicy, Validate};

#[utoipa::path(get, path = "/api/v1/streaming-policies", tag = "streaming-policies", operation_id = "listStreamingPolicies",
    params(schemas::Top, schemas::SkipToken),
    responses((status = 200, description = "One page of streaming policies", body = schemas::StreamingPolicyList),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error)))]
pub async fn list(
    _: Admin,
    State(s): State<AppState>,
    paging: Paging,
) -> ApiResult<Json<ListPage<StreamingPolicy>>> {
    let page = s.store().list_streaming_policies(&paging.page()).await?;
    Ok(Json(ListPage::new("streaming-policies", &paging, page)))
}

#[utoipa::path(get, path = "/api/v1/streaming-policies/{name}", tag = "streaming-policies", operation_id = "getStreamingPolicy",
    params(schemas::Name),
    responses((status = 200, description = "The streaming policy", body = schemas::StreamingPolicy),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn get(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<StreamingPolicy>> {
    Ok(Json(s.store().get_streaming_policy(&name).await?))
}

#[utoipa::path(put, path = "/api/v1/streaming-policies/{name}", tag = "streaming-policies", operation_id = "putStreamingPolicy",
    params(schemas::Name), request_body = schemas::StreamingPolicyInput,
    responses((status = 200, description = "Replaced", body = schemas::StreamingPolicy),
        (status = 201, description = "Created", body = schemas::StreamingPolicy),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error),
        (status = 409, body = schemas::Error), (status = 413, body = schemas::Error)))]
pub async fn put(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<StreamingPolicy>)> {
    let policy: StreamingPolicy = body.with_name(&name)?.parse()?;
    policy.validate()?;
    let put = s.store().put_streaming_policy(policy).await?;
    Ok((put_status(put.created), Json(put.value)))
}

#[utoipa::path(delete, path = "/api/v1/streaming-policies/{name}", tag = "streaming-policies", operation_id = "deleteStreamingPolicy",
    params(schemas::Name),
    responses((status = 204, description = "Deleted"), (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 404, body = schemas::Error), (status = 409, description = "Predefined, or a locator uses it", body = schemas::Error)))]
pub async fn delete(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<StatusCode> {
    delete_status(
        s.store().delete_streaming_policy(&name).await?,
        "streaming policy",
        &name,
    )
}
