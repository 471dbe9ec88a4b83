//! `/api/v1/content-keys`: content keys (KID, 16-byte value, type, label,
//! policy). Responses never carry the value; it is generated from the OS
//! CSPRNG when a create leaves it out, and kept when a replace leaves it out
//! (a PUT of the same metadata must not rotate a key in use). The value
//! leaves the server only through `list-content-keys?includeValues=true`.

use super::entity::ApiEntity;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonObject;
use keys::model::{ContentKey, ContentKeyInput, ContentKeyWithValue};
use store::StoreError;

entity_api! {
    entity: ContentKey,
    collection: "content-keys",
    operations: "listContentKeys", "getContentKey", "putContentKey", "deleteContentKey",
    schemas: ContentKeyList, ContentKey, ContentKeyInput,
    list: "One page of content keys (without values)",
    get: "The content key (without its value)",
    put_404: "",
    delete: "Deleted",
    delete_409: "A streaming locator uses the key",
}

impl ApiEntity for ContentKey {
    async fn from_put(
        s: &AppState,
        name: String,
        body: JsonObject,
    ) -> ApiResult<ContentKeyWithValue> {
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
        Ok(input.into_content_key()?)
    }
}
