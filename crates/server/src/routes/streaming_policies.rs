//! `/api/v1/streaming-policies`: which protocols with which protection. The
//! four predefined policies are listed with the others and are read-only
//! (the store refuses to replace or delete them: 409).

use super::entity::{self, ApiEntity};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonObject;
use keys::model::StreamingPolicy;

entity_api! {
    entity: StreamingPolicy,
    collection: "streaming-policies",
    operations: "listStreamingPolicies", "getStreamingPolicy", "putStreamingPolicy", "deleteStreamingPolicy",
    schemas: StreamingPolicyList, StreamingPolicy, StreamingPolicyInput,
    list: "One page of streaming policies",
    get: "The streaming policy",
    put_404: "",
    delete: "Deleted",
    delete_409: "Predefined, or a locator uses it",
}

impl ApiEntity for StreamingPolicy {
    async fn from_put(_: &AppState, name: String, body: JsonObject) -> ApiResult<Self> {
        entity::parse_valid(&name, body)
    }
}
