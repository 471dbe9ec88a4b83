//! `/api/v1/content-key-policies`: who may receive a key, in which license
//! format (v3 `ContentKeyPolicy` with `options[]`). Responses blank every
//! secret (symmetric token keys, FairPlay credentials, upstream header
//! values) as v3 does outside `GetPolicyPropertiesWithSecrets`.

use super::entity::{self, ApiEntity};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonObject;
use keys::model::ContentKeyPolicy;

entity_api! {
    entity: ContentKeyPolicy,
    collection: "content-key-policies",
    operations: "listContentKeyPolicies", "getContentKeyPolicy", "putContentKeyPolicy", "deleteContentKeyPolicy",
    schemas: ContentKeyPolicyList, ContentKeyPolicy, ContentKeyPolicyInput,
    list: "One page of policies (secrets blanked)",
    get: "The policy (secrets blanked)",
    delete: "Deleted",
    delete_409: "A key, streaming policy or locator uses the policy",
}

impl ApiEntity for ContentKeyPolicy {
    async fn from_put(_: &AppState, name: String, body: JsonObject) -> ApiResult<Self> {
        entity::parse_valid(&name, body)
    }

    fn public(self, _: &AppState) -> Self {
        self.without_secrets()
    }
}
