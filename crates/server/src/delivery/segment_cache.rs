//! Encrypted media segments kept in memory, so a segment many viewers ask
//! for is encrypted once, not once per request.
//!
//! Why: encrypting on request costs a pass of AES and a copy over every byte
//! of every segment served (see [`media::origin::OriginAsset::segment_into`]);
//! a file server in front of pre-encrypted files sends them from the page
//! cache with `sendfile` and does neither. Viewers of one title mostly ask
//! for the same segments (a live edge, the first minutes of a new release),
//! so the bytes of the last request are the answer to the next: keeping
//! them is what a CDN in front of the origin does, here for the requests
//! that reach the origin (a CDN miss, a CDN-less deployment, each CDN
//! edge's first request).
//!
//! What is kept: whole media segments as served (after protection), by a
//! digest made like their ETag (`origin::etag_for`) of everything the bytes
//! depend on: the locator, variant, key ids and values, license URLs and
//! key rotation (`resolve::VariantPlan::bytes_tag`), the segment file's
//! identity (device, inode, size, modification time: a new upload or
//! recording writes new files; on object storage, the asset's `index.json`
//! identity) and the segment's path. Not `index.json` for local files: a
//! live recording rewrites it at every fragment, which would drop every
//! kept segment of the live edge. Nothing is looked up before the request has
//! passed the locator's checks (it exists, is active, serves this
//! variant), so the cache never answers a request the origin would refuse.
//! Manifests and init segments are small and cheap; they are not kept.
//!
//! Memory: each kept segment of [`MAP_FROM`] bytes or more is copied into
//! an anonymous memory map of its own size, returned to the system when
//! the cache lets it go (and the last response sending it is done). A
//! cache that turns over (a working set larger than the cache) then costs
//! its size and no more: kept in `malloc` memory, segments of many sizes
//! freed on other threads than the ones that allocated them left the heap
//! at 2.7 times the cache's size (bench/origin_rss.sh, 176 MiB for 64 MiB
//! of segments, against 51 MiB without the cache). Smaller segments (audio)
//! stay in `malloc` memory, and the threshold rises with the cache's size,
//! so the cache never holds more than [`MAX_MAPS`] maps (a process may
//! have 65,530, and the origin maps each segment file it reads).
//!
//! Bounds: `--origin-cache-mb` MiB of segment bytes in all (0: off), by the
//! `quick_cache` crate's scan-resistant policy (a viewer seeking through a
//! long title does not flush what everybody watches). While one request
//! builds a segment, others for the same segment wait for it (up to
//! [`WAIT_FOR_BUILDER`]) instead of encrypting it again: the crowd at a new
//! live segment costs one encryption.

use axum::body::Bytes;
use quick_cache::DefaultHashBuilder;
use quick_cache::Weighter;
use quick_cache::sync::{Cache, DefaultLifecycle, GuardResult, PlaceholderGuard};
use std::time::Duration;

/// How long a request waits for another that is building the same segment,
/// before it builds the segment itself.
pub(crate) const WAIT_FOR_BUILDER: Duration = Duration::from_secs(5);

/// Default `--origin-cache-mb`.
pub const DEFAULT_CACHE_MB: u64 = 64;

/// The smallest segment kept in a map of its own (see the module docs).
const MAP_FROM: usize = 64 << 10;

/// The most maps the cache holds: with a cache larger than `MAX_MAPS`
/// times [`MAP_FROM`], only segments of at least its size over `MAX_MAPS`
/// get one.
const MAX_MAPS: u64 = 16_384;

/// Bytes an entry costs besides its segment (key, bookkeeping).
const ENTRY_OVERHEAD: u64 = 128;

/// A segment as a typical ladder's top rendition has it (2 s at 4 Mb/s):
/// the cache's estimate of how many entries it holds.
const TYPICAL_SEGMENT: u64 = 1 << 20;

#[derive(Clone)]
struct ByLength;

impl Weighter<String, Bytes> for ByLength {
    fn weight(&self, key: &String, segment: &Bytes) -> u64 {
        segment.len() as u64 + key.len() as u64 + ENTRY_OVERHEAD
    }
}

type Inner = Cache<String, Bytes, ByLength>;
type Guard<'a> = PlaceholderGuard<
    'a,
    String,
    Bytes,
    ByLength,
    DefaultHashBuilder,
    DefaultLifecycle<String, Bytes>,
>;

/// Served media segments by their cache key (see the module docs); `None`
/// inside when the cache is off.
pub(crate) struct SegmentCache {
    cache: Option<Inner>,
    /// Segments of this many bytes or more are kept in maps of their own.
    map_from: usize,
}

/// What a lookup found.
pub(crate) enum Lookup<'a> {
    /// The segment's bytes as served before.
    Hit(Bytes),
    /// Not kept: build it, then [`Builder::keep`] it (other requests for
    /// the same segment wait for that meanwhile).
    Build(Builder<'a>),
}

/// The right to build one segment and keep it; dropped without
/// [`Builder::keep`] (an error), the next waiting request builds instead.
pub(crate) struct Builder<'a> {
    guard: Option<Guard<'a>>,
    map_from: usize,
}

impl SegmentCache {
    /// A cache of at most `bytes` bytes of segments; 0 keeps nothing.
    pub(crate) fn new(bytes: u64) -> Self {
        let map_from = usize::try_from(bytes / MAX_MAPS).map_or(usize::MAX, |n| n.max(MAP_FROM));
        if bytes == 0 {
            return SegmentCache {
                cache: None,
                map_from,
            };
        }
        let items = (bytes / TYPICAL_SEGMENT).max(1) as usize;
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(items)
            .weight_capacity(bytes)
            // Each shard holds at least 32 typical segments (the crate
            // halves the shard count until it does), so a segment of up to
            // a shard's share fits.
            .shards(std::thread::available_parallelism().map_or(4, |n| n.get() * 4))
            .build();
        let cache = match options {
            Ok(o) => Cache::with_options(o, ByLength, Default::default(), Default::default()),
            // Only when a required option is missing: both are set above.
            Err(_) => Cache::with_weighter(items, bytes, ByLength),
        };
        SegmentCache {
            cache: Some(cache),
            map_from,
        }
    }

    /// Blocking (it may wait up to [`WAIT_FOR_BUILDER`] for another request
    /// building the same segment): the segment under `etag` (its cache key), or the
    /// right to build it.
    pub(crate) fn lookup(&self, etag: &str) -> Lookup<'_> {
        let map_from = self.map_from;
        let Some(cache) = &self.cache else {
            return Lookup::Build(Builder {
                guard: None,
                map_from,
            });
        };
        match cache.get_value_or_guard(etag, Some(WAIT_FOR_BUILDER)) {
            GuardResult::Value(b) => Lookup::Hit(b),
            GuardResult::Guard(g) => Lookup::Build(Builder {
                guard: Some(g),
                map_from,
            }),
            // The other builder is slow: build too, keep nothing.
            GuardResult::Timeout => Lookup::Build(Builder {
                guard: None,
                map_from,
            }),
        }
    }

    /// The segment under `etag` (its cache key) if it is kept; never waits.
    pub(crate) fn get(&self, etag: &str) -> Option<Bytes> {
        self.cache.as_ref()?.get(etag)
    }

    /// Keeps a copy of `segment` under `etag`, built without a [`Builder`]
    /// (object storage: fetched and built on other tasks, no one waits for
    /// it).
    pub(crate) fn insert(&self, etag: String, segment: &[u8]) {
        if let Some(c) = &self.cache
            && let Some(copy) = own_copy(segment, self.map_from)
        {
            c.insert(etag, copy);
        }
    }

    /// Segment bytes kept now.
    pub(crate) fn weight(&self) -> u64 {
        self.cache.as_ref().map_or(0, Inner::weight)
    }
}

impl Builder<'_> {
    /// Keeps a copy of `segment` for the next requests (see the module
    /// docs on memory).
    pub(crate) fn keep(self, segment: &[u8]) {
        if let Some(g) = self.guard
            && let Some(copy) = own_copy(segment, self.map_from)
        {
            // Err: the cache was cleared meanwhile; nothing to keep then.
            let _ = g.insert(copy);
        }
    }
}

/// `segment` copied into an anonymous map of its size when it has
/// `map_from` bytes or more, else into `malloc` memory (`None`, and not
/// kept, when the system refuses a map: the request is answered anyway).
fn own_copy(segment: &[u8], map_from: usize) -> Option<Bytes> {
    if segment.len() < map_from {
        return Some(Bytes::copy_from_slice(segment));
    }
    let mut map = memmap2::MmapMut::map_anon(segment.len()).ok()?;
    map.copy_from_slice(segment);
    map.make_read_only().ok().map(Bytes::from_owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_was_given_within_its_size() {
        let c = SegmentCache::new(4 << 20);
        let Lookup::Build(b) = c.lookup("\"a\"") else {
            panic!("empty cache hit")
        };
        b.keep(&[7u8; 1000]);
        match c.lookup("\"a\"") {
            Lookup::Hit(b) => assert_eq!(b, vec![7u8; 1000]),
            Lookup::Build(_) => panic!("kept segment missed"),
        }
        // A builder that fails keeps nothing: the next request builds.
        let Lookup::Build(b) = c.lookup("\"b\"") else {
            panic!("hit")
        };
        drop(b);
        assert!(matches!(c.lookup("\"b\""), Lookup::Build(_)));
        // Bounded: 40 segments of 1 MiB into 4 MiB.
        for i in 0..40 {
            if let Lookup::Build(b) = c.lookup(&format!("\"s{i}\"")) {
                b.keep(&vec![0u8; 1 << 20]);
            }
        }
        assert!(c.weight() <= 4 << 20, "{} bytes kept", c.weight());
    }

    #[test]
    fn maps_only_big_segments_and_never_too_many() {
        assert_eq!(SegmentCache::new(64 << 20).map_from, MAP_FROM);
        // 16 GiB of cache: at most MAX_MAPS maps, of 1 MiB or more.
        assert_eq!(SegmentCache::new(16 << 30).map_from, 1 << 20);
        let small = own_copy(&[5u8; 100], MAP_FROM).unwrap();
        let big = own_copy(&[6u8; 200_000], MAP_FROM).unwrap();
        assert_eq!((small.len(), big.len()), (100, 200_000));
        assert!(small.iter().all(|&b| b == 5) && big.iter().all(|&b| b == 6));
        assert!(own_copy(&[], MAP_FROM).unwrap().is_empty());
    }

    #[test]
    fn off_keeps_nothing() {
        let c = SegmentCache::new(0);
        let Lookup::Build(b) = c.lookup("\"a\"") else {
            panic!("hit")
        };
        b.keep(b"x");
        assert!(matches!(c.lookup("\"a\""), Lookup::Build(_)));
        assert_eq!(c.weight(), 0);
    }

    #[test]
    fn waiting_requests_get_the_builders_segment() {
        let c = std::sync::Arc::new(SegmentCache::new(4 << 20));
        let Lookup::Build(b) = c.lookup("\"new\"") else {
            panic!("hit")
        };
        let waiter = {
            let c = c.clone();
            std::thread::spawn(
                move || matches!(c.lookup("\"new\""), Lookup::Hit(b) if b == Bytes::from_static(b"edge")),
            )
        };
        std::thread::sleep(Duration::from_millis(50));
        b.keep(b"edge");
        assert!(
            waiter.join().expect("waiter"),
            "the waiting request built again"
        );
    }
}
