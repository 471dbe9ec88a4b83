//! The four operations every entity has, written once over [`ApiEntity`]:
//! `GET /{collection}` lists one page, `GET /{collection}/{name}` reads,
//! `PUT /{collection}/{name}` creates or replaces (201 created, 200
//! replaced), `DELETE /{collection}/{name}` deletes (204; 404 when missing;
//! 409 while referenced).
//!
//! Every PUT body may also be the v3 resource envelope as the cloud
//! service returned it (`{"id","name","type","properties","systemData"}`):
//! [`unwrap_envelope`] takes the `properties` out before any entity hook
//! sees the body, so an exported resource is imported as it is, with one
//! code path for all entities.
//!
//! What differs between entities is in the [`ApiEntity`] hooks: how a PUT
//! body becomes what the store writes (kept fields, generated values,
//! checks), what a response hides, and what a delete does besides the
//! store's. `#[utoipa::path]` needs one concrete function per operation, so
//! `entity_api!` writes the four annotated handlers of
//! an entity, and its routes, from the facts that differ in the OpenAPI
//! document (descriptions, operation ids, the schemas, optional responses).

use super::{ListPage, delete_status, put_status};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonObject, Paging};
use axum::Json;
use axum::http::StatusCode;
use keys::model::{Validate, fields};
use serde::Serialize;
use std::future::Future;
use store::Entity;

/// An entity of the API: the [`store::Entity`] facts plus its hooks.
pub(crate) trait ApiEntity: Entity {
    /// What the store writes for `PUT /{collection}/{name}` with `body`.
    fn from_put(
        s: &AppState,
        name: String,
        body: JsonObject,
    ) -> impl Future<Output = ApiResult<Self::Write>> + Send;

    /// Fields of a PUT body the entity does not keep on purpose, as
    /// [`keys::model::fields::matches`] patterns with why: the v3 read-only
    /// facts of the service's own copy, and v3 features castguard does
    /// without. Any other field it does not keep is refused by name.
    const NOT_KEPT: &'static [(&'static str, &'static str)] = &[
        ("created", SET_BY_CASTGUARD),
        ("lastModified", SET_BY_CASTGUARD),
    ];

    /// The entity as responses show it (server-made fields such as URLs
    /// filled in from `_s`).
    fn public(self, _s: &AppState) -> Self {
        self
    }

    /// `DELETE /{collection}/{name}`: by default only the store's delete.
    fn handle_delete(
        s: &AppState,
        name: String,
    ) -> impl Future<Output = ApiResult<StatusCode>> + Send {
        async move { delete::<Self>(s, &name).await }
    }
}

pub(crate) async fn list<E: ApiEntity>(
    s: &AppState,
    paging: Paging,
) -> ApiResult<Json<ListPage<E>>> {
    let mut page = E::list(s.store(), &paging.page()).await?;
    page.items = page.items.into_iter().map(|e| e.public(s)).collect();
    Ok(Json(ListPage::new(E::COLLECTION, &paging, page)))
}

pub(crate) async fn get<E: ApiEntity>(s: &AppState, name: &str) -> ApiResult<Json<E>> {
    Ok(Json(E::get(s.store(), name).await?.public(s)))
}

pub(crate) async fn put<E: ApiEntity>(
    s: &AppState,
    name: String,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<E>)>
where
    E::Write: Serialize,
{
    let (value, _) = prepare::<E>(s, name, body).await?;
    let put = E::put(s.store(), value).await?;
    Ok((put_status(put.created), Json(put.value.public(s))))
}

/// Why a v3 read-only timestamp is not kept.
pub(crate) const SET_BY_CASTGUARD: &str = "read-only: castguard sets it";

/// A field of a request that the stored entity does not keep, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NotKept {
    /// Its JSON path in the resource's properties.
    pub field: String,
    pub reason: &'static str,
}

/// A PUT body as what the store writes: unwrapped from the v3 envelope,
/// through the entity's hook, and checked for fields it would drop
/// ([`keys::model::fields::dropped`]): those the entity ignores on purpose
/// ([`ApiEntity::NOT_KEPT`]) are returned with why, any other is a 400
/// naming it, so that nothing the caller meant to set is lost silently.
pub(crate) async fn prepare<E: ApiEntity>(
    s: &AppState,
    name: String,
    body: JsonObject,
) -> ApiResult<(E::Write, Vec<NotKept>)>
where
    E::Write: Serialize,
{
    let body = unwrap_envelope(E::COLLECTION, &name, body)?;
    let input = serde_json::Value::Object(body.0.clone());
    let value = E::from_put(s, name, body).await?;
    let kept = serde_json::to_value(&value).map_err(ApiError::internal)?;
    let mut not_kept = Vec::new();
    for field in fields::dropped(&input, &kept) {
        match E::NOT_KEPT.iter().find(|(p, _)| fields::matches(p, &field)) {
            Some((_, reason)) => not_kept.push(NotKept { field, reason }),
            None => {
                return Err(ApiError::bad_request(
                    field,
                    "unknown field: castguard does not know it (check its spelling, or remove it)",
                ));
            }
        }
    }
    Ok((value, not_kept))
}

/// The v3 resource type of a collection, as the service spells it:
/// `content-key-policies` is `Microsoft.Media/mediaservices/contentKeyPolicies`.
fn resource_type(collection: &str) -> String {
    let mut out = String::from("Microsoft.Media/mediaservices/");
    let mut upper = false;
    for c in collection.chars() {
        match c {
            '-' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// A PUT body in the v3 resource envelope becomes its `properties`; any
/// other body is returned as it is.
///
/// A body is an envelope when it has a top-level `properties` (no entity
/// has a field of that name): both the service's responses (`id`, `name`,
/// `type`, `properties`, `systemData`) and its PUT requests (`properties`
/// alone). `name` must be the URL's and `type` the collection's (ASCII case
/// ignored: the service writes `mediaservices` and `mediaServices`); `id`
/// and `systemData` are the service's read-only facts about its own copy
/// and are ignored; any other top-level key is refused by name, since
/// dropping a field the caller meant to set would import something else.
pub(crate) fn unwrap_envelope(
    collection: &str,
    name: &str,
    mut body: JsonObject,
) -> ApiResult<JsonObject> {
    let Some(properties) = body.0.remove("properties") else {
        return Ok(body);
    };
    let serde_json::Value::Object(properties) = properties else {
        return Err(ApiError::bad_request("properties", "must be a JSON object"));
    };
    for (key, value) in &body.0 {
        match key.as_str() {
            "id" | "systemData" => {}
            "name" if value.is_null() || value.as_str() == Some(name) => {}
            "name" => {
                return Err(ApiError::bad_request(
                    "name",
                    "must be absent or equal to the name in the URL",
                ));
            }
            "type" => {
                let want = resource_type(collection);
                if !value
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&want))
                {
                    return Err(ApiError::bad_request(
                        "type",
                        format!("must be absent or '{want}'"),
                    ));
                }
            }
            other => {
                return Err(ApiError::bad_request(
                    other,
                    "unknown field beside 'properties' in the resource envelope",
                ));
            }
        }
    }
    Ok(JsonObject(properties))
}

/// A PUT body as the entity `name` is sent, checked: what entities without
/// server-kept fields write.
pub(crate) fn parse_valid<E: Entity + Validate>(name: &str, body: JsonObject) -> ApiResult<E> {
    let value: E = body.with_name(name)?.parse()?;
    value.validate()?;
    Ok(value)
}

/// Whether two strings are equal, at compile time: `entity_api!` checks its
/// collection literal against the entity's [`Entity::COLLECTION`].
pub(crate) const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The store's delete of `name` as a status.
pub(crate) async fn delete<E: ApiEntity>(s: &AppState, name: &str) -> ApiResult<StatusCode> {
    let deleted = E::delete(s.store(), name).await?;
    delete_status(deleted, &E::KIND.to_string(), name)
}

/// The annotated `list`, `get`, `put` and `delete` handlers of one entity
/// and its `routes()`, in the module that invokes it. The responses every
/// entity has are written here; `put_404` and `delete_409` add the ones only
/// some have.
macro_rules! entity_api {
    (
        entity: $ty:ty,
        collection: $collection:literal,
        operations: $list_op:literal, $get_op:literal, $put_op:literal, $delete_op:literal,
        schemas: $list_schema:ident, $schema:ident, $input_schema:ident,
        list: $list_desc:literal,
        get: $get_desc:literal,
        $(put_404: $put_404:literal,)?
        delete: $delete_desc:literal
        $(, delete_409: $delete_409:literal)? $(,)?
    ) => {
        const _: () = assert!(
            crate::routes::entity::same(<$ty as store::Entity>::COLLECTION, $collection),
            "the collection of entity_api! differs from store::Entity::COLLECTION"
        );

        #[utoipa::path(get, path = concat!("/api/v1/", $collection), tag = $collection, operation_id = $list_op,
            params(crate::openapi::schemas::Top, crate::openapi::schemas::SkipToken),
            responses((status = 200, description = $list_desc, body = crate::openapi::schemas::$list_schema),
                (status = 400, body = crate::openapi::schemas::Error), (status = 401, body = crate::openapi::schemas::Error)))]
        pub async fn list(
            _: crate::auth::Admin,
            axum::extract::State(s): axum::extract::State<crate::AppState>,
            paging: crate::extract::Paging,
        ) -> crate::error::ApiResult<axum::Json<crate::routes::ListPage<$ty>>> {
            crate::routes::entity::list::<$ty>(&s, paging).await
        }

        #[utoipa::path(get, path = concat!("/api/v1/", $collection, "/{name}"), tag = $collection, operation_id = $get_op,
            params(crate::openapi::schemas::Name),
            responses((status = 200, description = $get_desc, body = crate::openapi::schemas::$schema),
                (status = 400, body = crate::openapi::schemas::Error), (status = 401, body = crate::openapi::schemas::Error),
                (status = 404, body = crate::openapi::schemas::Error)))]
        pub async fn get(
            _: crate::auth::Admin,
            axum::extract::State(s): axum::extract::State<crate::AppState>,
            crate::extract::EntityName(name): crate::extract::EntityName,
        ) -> crate::error::ApiResult<axum::Json<$ty>> {
            crate::routes::entity::get::<$ty>(&s, &name).await
        }

        #[utoipa::path(put, path = concat!("/api/v1/", $collection, "/{name}"), tag = $collection, operation_id = $put_op,
            params(crate::openapi::schemas::Name), request_body = crate::openapi::schemas::$input_schema,
            responses((status = 200, description = "Replaced", body = crate::openapi::schemas::$schema),
                (status = 201, description = "Created", body = crate::openapi::schemas::$schema),
                (status = 400, body = crate::openapi::schemas::Error), (status = 401, body = crate::openapi::schemas::Error),
                $((status = 404, description = $put_404, body = crate::openapi::schemas::Error),)?
                (status = 409, body = crate::openapi::schemas::Error), (status = 413, body = crate::openapi::schemas::Error)))]
        pub async fn put(
            _: crate::auth::Admin,
            axum::extract::State(s): axum::extract::State<crate::AppState>,
            crate::extract::EntityName(name): crate::extract::EntityName,
            body: crate::extract::JsonObject,
        ) -> crate::error::ApiResult<(axum::http::StatusCode, axum::Json<$ty>)> {
            crate::routes::entity::put::<$ty>(&s, name, body).await
        }

        #[utoipa::path(delete, path = concat!("/api/v1/", $collection, "/{name}"), tag = $collection, operation_id = $delete_op,
            params(crate::openapi::schemas::Name),
            responses((status = 204, description = $delete_desc), (status = 400, body = crate::openapi::schemas::Error),
                (status = 401, body = crate::openapi::schemas::Error), (status = 404, body = crate::openapi::schemas::Error)
                $(, (status = 409, description = $delete_409, body = crate::openapi::schemas::Error))?))]
        pub async fn delete(
            _: crate::auth::Admin,
            axum::extract::State(s): axum::extract::State<crate::AppState>,
            crate::extract::EntityName(name): crate::extract::EntityName,
        ) -> crate::error::ApiResult<axum::http::StatusCode> {
            <$ty as crate::routes::entity::ApiEntity>::handle_delete(&s, name).await
        }

        /// `/{collection}` and `/{collection}/{name}` with the four handlers.
        pub(crate) fn routes() -> axum::Router<crate::AppState> {
            axum::Router::new()
                .route(concat!("/", $collection), axum::routing::get(list))
                .route(
                    concat!("/", $collection, "/{name}"),
                    axum::routing::get(get).put(put).delete(delete),
                )
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn unwrap(body: Value) -> ApiResult<Value> {
        let Value::Object(map) = body else {
            unreachable!()
        };
        unwrap_envelope("content-key-policies", "p1", JsonObject(map)).map(|b| Value::Object(b.0))
    }

    fn field(r: ApiResult<Value>) -> String {
        match r {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn resource_types_are_the_services() {
        assert_eq!(
            resource_type("assets"),
            "Microsoft.Media/mediaservices/assets"
        );
        assert_eq!(
            resource_type("content-key-policies"),
            "Microsoft.Media/mediaservices/contentKeyPolicies"
        );
        assert_eq!(
            resource_type("streaming-locators"),
            "Microsoft.Media/mediaservices/streamingLocators"
        );
    }

    #[test]
    fn envelope_gives_its_properties() {
        let props = json!({"policyId": "07ad673b-dc14-4230-adab-716622f33992", "options": []});
        let got = unwrap(json!({"name": "p1",
            "id": "/subscriptions/0/resourceGroups/g/providers/Microsoft.Media/mediaServices/a/contentKeyPolicies/p1",
            "type": "Microsoft.Media/mediaServices/contentKeyPolicies", "properties": props,
            "systemData": {"createdBy": "someone", "createdByType": "User"}}));
        assert_eq!(got.unwrap(), props);
        // The service's PUT request shape: `properties` alone.
        assert_eq!(unwrap(json!({"properties": props})).unwrap(), props);
    }

    #[test]
    fn bare_properties_pass_unchanged() {
        let flat = json!({"name": "other", "type": "x", "options": []});
        assert_eq!(unwrap(flat.clone()).unwrap(), flat);
    }

    #[test]
    fn wrong_name_type_or_extra_field_is_named() {
        let p = json!({"options": []});
        assert_eq!(
            field(unwrap(json!({"name": "p2", "properties": p}))),
            "name"
        );
        assert_eq!(
            field(unwrap(
                json!({"type": "Microsoft.Media/mediaservices/assets", "properties": p})
            )),
            "type"
        );
        assert_eq!(field(unwrap(json!({"type": 1, "properties": p}))), "type");
        assert_eq!(field(unwrap(json!({"tags": {}, "properties": p}))), "tags");
        assert_eq!(
            field(unwrap(json!({"name": "p1", "properties": [1]}))),
            "properties"
        );
    }
}
