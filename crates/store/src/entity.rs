//! [`Entity`]: the facts the five stored entities share, so that code above
//! the store (the API's list/get/put/delete handlers, the CLI's verbs) is
//! written once over `E: Entity` instead of once per entity.
//!
//! Why a trait over the [`Store`] methods rather than generic methods on
//! [`Store`]: the store is used as `Arc<dyn Store>`, and a generic method
//! would make it not dyn-compatible. Each impl only names the four methods
//! of its entity; what differs between entities (sealing, reference checks,
//! server-assigned ids) stays in those methods. A new entity is one more
//! [`EntityKind`], its four `Store` methods and one `entity!` line here.

use crate::{EntityKind, Page, PageResult, Put, Result, Store};
use keys::model::{
    Asset, ContentKey, ContentKeyPolicy, ContentKeyWithValue, LiveEvent, LiveOutput,
    StreamingLocator, StreamingPolicy,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// A future returned by the [`Entity`] operations (what `async_trait`
/// methods of [`Store`] return).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A stored entity: its kind, its collection name, and its create-or-replace,
/// read, list and delete on any [`Store`].
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// As named in errors (`asset`, `content key`, ...).
    const KIND: EntityKind;
    /// The collection in `/api/v1/{COLLECTION}` (`assets`, `content-keys`).
    const COLLECTION: &'static str;
    /// What a put takes: the entity itself, or for content keys the key with
    /// its value (which the entity, as read back, never carries).
    type Write: Send + 'static;

    fn get<'a>(store: &'a dyn Store, name: &'a str) -> StoreFuture<'a, Self>;
    fn list<'a>(store: &'a dyn Store, page: &'a Page) -> StoreFuture<'a, PageResult<Self>>;
    fn put(store: &dyn Store, value: Self::Write) -> StoreFuture<'_, Put<Self>>;
    /// `Ok(false)` when there was nothing to delete.
    fn delete<'a>(store: &'a dyn Store, name: &'a str) -> StoreFuture<'a, bool>;
}

macro_rules! entity {
    ($ty:ty, $kind:ident, $collection:literal, $write:ty, $get:ident, $list:ident, $put:ident, $delete:ident) => {
        impl Entity for $ty {
            const KIND: EntityKind = EntityKind::$kind;
            const COLLECTION: &'static str = $collection;
            type Write = $write;

            fn get<'a>(store: &'a dyn Store, name: &'a str) -> StoreFuture<'a, Self> {
                store.$get(name)
            }
            fn list<'a>(store: &'a dyn Store, page: &'a Page) -> StoreFuture<'a, PageResult<Self>> {
                store.$list(page)
            }
            fn put(store: &dyn Store, value: $write) -> StoreFuture<'_, Put<Self>> {
                store.$put(value)
            }
            fn delete<'a>(store: &'a dyn Store, name: &'a str) -> StoreFuture<'a, bool> {
                store.$delete(name)
            }
        }
    };
}

entity!(
    Asset,
    Asset,
    "assets",
    Asset,
    get_asset,
    list_assets,
    put_asset,
    delete_asset
);
entity!(
    ContentKey,
    ContentKey,
    "content-keys",
    ContentKeyWithValue,
    get_content_key,
    list_content_keys,
    put_content_key,
    delete_content_key
);
entity!(
    ContentKeyPolicy,
    ContentKeyPolicy,
    "content-key-policies",
    ContentKeyPolicy,
    get_content_key_policy,
    list_content_key_policies,
    put_content_key_policy,
    delete_content_key_policy
);
entity!(
    StreamingPolicy,
    StreamingPolicy,
    "streaming-policies",
    StreamingPolicy,
    get_streaming_policy,
    list_streaming_policies,
    put_streaming_policy,
    delete_streaming_policy
);
entity!(
    StreamingLocator,
    StreamingLocator,
    "streaming-locators",
    StreamingLocator,
    get_streaming_locator,
    list_streaming_locators,
    put_streaming_locator,
    delete_streaming_locator
);
entity!(
    LiveEvent,
    LiveEvent,
    "live-events",
    LiveEvent,
    get_live_event,
    list_live_events,
    put_live_event,
    delete_live_event
);
entity!(
    LiveOutput,
    LiveOutput,
    "live-outputs",
    LiveOutput,
    get_live_output,
    list_live_outputs,
    put_live_output,
    delete_live_output
);
