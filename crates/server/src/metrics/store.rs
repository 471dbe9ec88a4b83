//! Store and Redis figures: [`MeteredStore`] times every store call and
//! counts the failures that are the database's (not the request's);
//! [`PoolCollector`] reads pool sizes and the Redis error count at each
//! scrape; [`WaitObserver`] records connection pool waits.
//!
//! A decorator rather than counters inside the store: the store crate
//! stays free of Prometheus, and every caller (API, origin, key delivery,
//! STS, readiness) is measured the same way without touching each.

use super::Metrics;
use keys::model::{
    Asset, ContentKey, ContentKeyPolicy, ContentKeyWithValue, LiveEvent, LiveOutput,
    StreamingLocator, StreamingPolicy,
};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use store::{Change, Page, PageResult, Put, Secret, Store};
use time::OffsetDateTime;
use tokio::sync::broadcast;
use uuid::Uuid;

/// A [`Store`] that times its calls and counts backend failures into
/// [`Metrics`].
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    database: &'static str,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let database = inner.database();
        MeteredStore {
            inner,
            metrics,
            database,
        }
    }

    fn record<T>(&self, operation: &'static str, started: Instant, r: &store::Result<T>) {
        self.metrics.store_call(
            self.database,
            operation,
            started.elapsed(),
            r.as_ref().err(),
        );
    }
}

/// Forwards each listed method to `inner`, timed under its operation
/// class (`read`, `write`, `token_use`, `secret`, `ping`).
macro_rules! metered {
    ($($op:literal fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        #[async_trait::async_trait]
        impl Store for MeteredStore {
            $(
                async fn $name(&self, $($arg: $ty),*) -> store::Result<$ret> {
                    let started = Instant::now();
                    let r = self.inner.$name($($arg),*).await;
                    self.record($op, started, &r);
                    r
                }
            )*

            fn subscribe(&self) -> Option<broadcast::Receiver<Change>> {
                self.inner.subscribe()
            }

            fn database(&self) -> &'static str {
                self.database
            }

            fn pool_stats(&self) -> Vec<store::PoolStats> {
                self.inner.pool_stats()
            }

            fn set_pool_observer(&self, observer: Arc<dyn store::PoolObserver>) {
                self.inner.set_pool_observer(observer)
            }

            async fn close(&self) {
                self.inner.close().await
            }
        }
    };
}

metered! {
    "read" fn get_asset(name: &str) -> Asset;
    "read" fn list_assets(page: &Page) -> PageResult<Asset>;
    "write" fn put_asset(asset: Asset) -> Put<Asset>;
    "write" fn delete_asset(name: &str) -> bool;
    "read" fn get_content_key(name: &str) -> ContentKey;
    "read" fn get_content_key_with_value(name: &str) -> ContentKeyWithValue;
    "read" fn get_content_key_by_key_id(key_id: Uuid) -> ContentKeyWithValue;
    "read" fn list_content_keys(page: &Page) -> PageResult<ContentKey>;
    "write" fn put_content_key(key: ContentKeyWithValue) -> Put<ContentKey>;
    "write" fn delete_content_key(name: &str) -> bool;
    "read" fn get_content_key_policy(name: &str) -> ContentKeyPolicy;
    "read" fn list_content_key_policies(page: &Page) -> PageResult<ContentKeyPolicy>;
    "write" fn put_content_key_policy(policy: ContentKeyPolicy) -> Put<ContentKeyPolicy>;
    "write" fn delete_content_key_policy(name: &str) -> bool;
    "read" fn get_streaming_policy(name: &str) -> StreamingPolicy;
    "read" fn list_streaming_policies(page: &Page) -> PageResult<StreamingPolicy>;
    "write" fn put_streaming_policy(policy: StreamingPolicy) -> Put<StreamingPolicy>;
    "write" fn delete_streaming_policy(name: &str) -> bool;
    "read" fn get_streaming_locator(name: &str) -> StreamingLocator;
    "read" fn get_streaming_locator_by_id(id: Uuid) -> StreamingLocator;
    "read" fn list_streaming_locators(page: &Page) -> PageResult<StreamingLocator>;
    "write" fn put_streaming_locator(locator: StreamingLocator) -> Put<StreamingLocator>;
    "write" fn delete_streaming_locator(name: &str) -> bool;
    "write" fn import(items: Vec<store::ImportItem>, dry_run: bool) -> Vec<store::Imported>;
    "read" fn get_live_event(name: &str) -> LiveEvent;
    "read" fn list_live_events(page: &Page) -> PageResult<LiveEvent>;
    "write" fn put_live_event(event: LiveEvent) -> Put<LiveEvent>;
    "write" fn delete_live_event(name: &str) -> bool;
    "write" fn set_live_event_state(name: &str, state: keys::model::LiveEventResourceState) -> LiveEvent;
    "read" fn get_live_output(name: &str) -> LiveOutput;
    "read" fn list_live_outputs(page: &Page) -> PageResult<LiveOutput>;
    "read" fn live_outputs_of(event: &str) -> Vec<LiveOutput>;
    "write" fn put_live_output(output: LiveOutput) -> Put<LiveOutput>;
    "write" fn delete_live_output(name: &str) -> bool;
    "token_use" fn consume_token_use(token_id: &[u8; 32], max_uses: u32, expires_at: OffsetDateTime) -> bool;
    "token_use" fn purge_expired_token_uses(now: OffsetDateTime) -> u64;
    "secret" fn get_secret(name: &str) -> Option<Secret>;
    "secret" fn put_secret(name: &str, value: &[u8], expected_version: Option<u64>) -> bool;
    "ping" fn ping() -> ();
}

/// Records pool waits into the metrics while they exist.
pub(super) struct WaitObserver(pub(super) Weak<Metrics>);

impl store::PoolObserver for WaitObserver {
    fn acquired(&self, access: store::Access, waited: Duration) {
        if let Some(m) = self.0.upgrade() {
            m.pool_wait
                .get_or_create(&super::AccessLabels {
                    access: access.as_str(),
                })
                .observe(waited.as_secs_f64());
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    database: &'static str,
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolStateLabels {
    database: &'static str,
    pool: &'static str,
    state: &'static str,
}

/// Pool sizes and the Redis error count, read at each scrape.
pub(super) struct PoolCollector {
    store: Arc<dyn Store>,
    redis: Option<store::redis::Redis>,
}

impl PoolCollector {
    pub(super) fn new(store: Arc<dyn Store>, redis: Option<store::redis::Redis>) -> Self {
        PoolCollector { store, redis }
    }
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCollector").finish_non_exhaustive()
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let database = self.store.database();
        let pools = self.store.pool_stats();
        if !pools.is_empty() {
            let mut e = encoder.encode_descriptor(
                "castguard_db_pool_connections",
                "Open database connections, by pool and state (idle or in_use).",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for p in &pools {
                for (state, n) in [("idle", p.idle), ("in_use", p.size.saturating_sub(p.idle))] {
                    let labels = PoolStateLabels {
                        database,
                        pool: p.pool,
                        state,
                    };
                    ConstGauge::new(i64::from(n)).encode(e.encode_family(&labels)?)?;
                }
            }
            let mut e = encoder.encode_descriptor(
                "castguard_db_pool_max_connections",
                "Most connections each database pool opens.",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for p in &pools {
                let labels = PoolLabels {
                    database,
                    pool: p.pool,
                };
                ConstGauge::new(i64::from(p.max)).encode(e.encode_family(&labels)?)?;
            }
        }
        if let Some(r) = &self.redis {
            let counter = ConstCounter::new(r.errors());
            let e = encoder.encode_descriptor(
                "castguard_redis_errors",
                "Failed Redis commands and connection attempts (replay counters and the OpenID Connect cache).",
                None,
                counter.metric_type(),
            )?;
            counter.encode(e)?;
        }
        Ok(())
    }
}
