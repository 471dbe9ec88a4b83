//! The origin: `GET|HEAD /s/{streamingLocatorId}/{variant}/{resource}`
//! serves a stored clear asset as DASH and HLS, encrypted on request for
//! the locator (issue 5; dynamic packaging by [`media::origin`]).
//!
//! CDN behaviour (RFC 9110, RFC 9111):
//! - strong `ETag` = digest of (asset identity, locator, variant, key ids,
//!   license URLs, path): the bytes are a pure function of these, so the tag
//!   is known before any encryption and a revalidation (`If-None-Match`,
//!   §13.1.2; `If-Modified-Since`, §13.1.3) costs a `stat`, not a segment;
//! - `Last-Modified` = when the asset was ingested (`index.json` mtime);
//! - `Cache-Control: public, max-age=31536000, immutable` on init and media
//!   segments (shortened to the locator's end time when it has one), and
//!   `max-age=2` on manifests;
//! - single byte ranges on segments (§14: 206 with `Content-Range`, 416
//!   with `bytes */len` past the end; several ranges get the whole 200);
//! - manifests gzip-compressed when `Accept-Encoding` allows (their ETag
//!   then ends in `-gz`, §8.8.3: a strong tag names one representation),
//!   with `Vary: Accept-Encoding`;
//! - HEAD from the same handler (axum drops the body, keeps the length).
//!
//! Bad input never reaches the file system: the locator must be a UUID,
//! the variant one of four words, the resource what
//! [`media::origin::Resource::parse`] accepts (no `..`, no leading zeros);
//! everything else is 404. Outside the locator's time window, 404.
//! A segment request reads only that segment's clear file
//! ([`media::origin::OriginAsset::segment_into`]) on the blocking pool.
//!
//! Hot path (issue 5 item 7, measured with `perf` under `wrk`): the
//! per-track protection (AES key schedule, PSSH, signalling) is built once
//! per cached locator resolution ([`SetupCache`]); the clear file is read
//! into a pooled buffer with room for what protection adds, encrypted in
//! place and handed to hyper without a copy ([`BufferPool`]: recycled
//! buffers avoid the page faults and `madvise` of fresh ~1 MB allocations);
//! and at most [`AssetCache::new`]'s `workers` segments are built at once,
//! so 100 clients do not mean 100 blocking threads fighting over two cores
//! and 100 segment buffers alive.

use super::error::DeliveryError;
use super::resolve::{self, ResolvedLocator, Variant};
use crate::AppState;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use media::origin::{OriginAsset, Resource};
use media::package::{Protection, TrackSetup};
use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

/// One year, the longest `max-age` RFC 9111 §5.2.2.1 suggests honouring.
const SEGMENT_MAX_AGE: u64 = 31_536_000;
/// Manifests may change when the locator does; caches recheck them soon.
const MANIFEST_MAX_AGE: u64 = 2;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/s/{locator}/{variant}/{*path}", get(serve))
}

/// Identity of an asset's `index.json`: an upload swaps the folder, which
/// changes the inode and mtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    modified: SystemTime,
}

fn stamp(dir: &FsPath) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(dir.join(media::asset::INDEX_FILE))?;
    Ok(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

/// Buffers the pool keeps at most, whatever their size.
const POOL_MAX_BUFFERS: usize = 64;
/// Total capacity the pool keeps at most: a bound on idle memory.
const POOL_MAX_BYTES: usize = 48 << 20;

/// Recycled segment buffers. A served segment's buffer comes back here
/// when hyper has written it (the response body owns a [`Pooled`]), so a
/// steady load allocates nothing; the pool keeps at most
/// [`POOL_MAX_BUFFERS`] buffers and [`POOL_MAX_BYTES`] in all.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    /// Idle buffers and the sum of their capacities.
    idle: Mutex<(Vec<Vec<u8>>, usize)>,
}

impl BufferPool {
    fn take(&self) -> Vec<u8> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        match idle.0.pop() {
            Some(b) => {
                idle.1 = idle.1.saturating_sub(b.capacity());
                b
            }
            None => Vec::new(),
        }
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        let cap = buf.capacity();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if cap > 0 && idle.0.len() < POOL_MAX_BUFFERS && idle.1 + cap <= POOL_MAX_BYTES {
            idle.1 += cap;
            idle.0.push(buf);
        }
    }

    #[cfg(test)]
    fn idle(&self) -> (usize, usize) {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        (idle.0.len(), idle.1)
    }
}

/// A pooled buffer as a response body: back to its pool when dropped.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// The [`TrackSetup`] of each (variant, track) of one resolved locator,
/// with the stamp of the asset it was built from.
#[derive(Debug, Default)]
pub(crate) struct SetupCache {
    map: Mutex<HashMap<SetupKey, (Stamp, Arc<TrackSetup>)>>,
}

/// (variant, track name) of a cached [`TrackSetup`].
type SetupKey = (Variant, String);

impl SetupCache {
    /// Blocking (builds PSSH and the key schedule on a miss). `Ok(None)`
    /// when the asset has no such track, so only real tracks are cached.
    fn get(
        &self,
        variant: Variant,
        track: &str,
        st: Stamp,
        asset: &OriginAsset,
        protection: &Protection,
    ) -> Result<Option<Arc<TrackSetup>>, DeliveryError> {
        let key = (variant, track.to_owned());
        if let Some((s, setup)) = self.map.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *s == st
        {
            return Ok(Some(setup.clone()));
        }
        let Some(setup) = asset
            .track_setup(protection, track)
            .map_err(|e| DeliveryError::internal(format!("{} {track}: {e}", variant.as_str())))?
        else {
            return Ok(None);
        };
        let setup = Arc::new(setup);
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (st, setup.clone()));
        Ok(Some(setup))
    }
}

/// Opened assets by folder; an entry is reopened when its stamp changes.
/// Also what every origin request shares: the segment buffer pool and the
/// bound on segments built at once.
pub(crate) struct AssetCache {
    capacity: usize,
    map: RwLock<HashMap<PathBuf, (Stamp, Arc<OriginAsset>)>>,
    pool: Arc<BufferPool>,
    workers: Arc<tokio::sync::Semaphore>,
}

impl AssetCache {
    /// `capacity` opened assets; segments are built by at most twice as
    /// many blocking threads as there are cores.
    pub(crate) fn new(capacity: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        AssetCache {
            capacity: capacity.max(1),
            map: RwLock::new(HashMap::new()),
            pool: Arc::new(BufferPool::default()),
            workers: Arc::new(tokio::sync::Semaphore::new(cores * 2)),
        }
    }

    /// Blocking: stats `index.json` and opens the asset if needed.
    fn get(&self, dir: &FsPath) -> Result<(Stamp, Arc<OriginAsset>), DeliveryError> {
        let st = match stamp(dir) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %dir.display(), "asset folder has no index.json (not ingested?)");
                return Err(DeliveryError::NotFound);
            }
            Err(e) => return Err(DeliveryError::internal(format!("{}: {e}", dir.display()))),
        };
        if let Some((s, a)) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(dir)
            && *s == st
        {
            return Ok((st, a.clone()));
        }
        let asset = Arc::new(
            OriginAsset::open(dir)
                .map_err(|e| DeliveryError::internal(format!("{}: {e}", dir.display())))?,
        );
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity
            && !map.contains_key(dir)
            && let Some(k) = map.keys().next().cloned()
        {
            map.remove(&k);
        }
        map.insert(dir.to_owned(), (st, asset.clone()));
        Ok((st, asset))
    }
}

/// The request headers the origin looks at.
#[derive(Debug, Default)]
struct Conditions {
    if_none_match: Option<String>,
    if_modified_since: Option<SystemTime>,
    range: Option<String>,
    if_range: Option<String>,
    gzip: bool,
}

impl Conditions {
    fn from_headers(h: &HeaderMap) -> Self {
        let text =
            |n: header::HeaderName| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Conditions {
            if_none_match: text(header::IF_NONE_MATCH),
            if_modified_since: text(header::IF_MODIFIED_SINCE)
                .and_then(|v| httpdate::parse_http_date(&v).ok()),
            range: text(header::RANGE),
            if_range: text(header::IF_RANGE),
            gzip: h
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(accepts_gzip),
        }
    }
}

/// Whether an `Accept-Encoding` value admits gzip (RFC 9110 §12.5.3): listed
/// (or `*`) without `q=0`.
fn accepts_gzip(v: &str) -> bool {
    v.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let zero = parts.any(|p| {
            p.strip_prefix("q=")
                .or_else(|| p.strip_prefix("Q="))
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero
    })
}

/// `If-None-Match` (§13.1.2, weak comparison): `*` or any listed tag.
fn none_match_hits(header: &str, etags: &[&str]) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || etags.iter().any(|e| t.trim_start_matches("W/") == *e))
}

/// A single `bytes=` range resolved against `len` (RFC 9110 §14.1.2):
/// `Ok(None)` to serve the whole resource (no, malformed or multiple
/// ranges), `Err` when unsatisfiable. `Ok(Some((start, end)))` is inclusive
/// with `start <= end < len`. Public for the `origin_request` fuzz target.
pub fn byte_range(header: &str, len: u64) -> Result<Option<(u64, u64)>, DeliveryError> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse::<u64>().ok()
        } else {
            None
        }
    };
    let range = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => {
            let Some(n) = parse(b) else { return Ok(None) };
            if n == 0 || len == 0 {
                return Err(DeliveryError::RangeNotSatisfiable { len });
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, _) => {
            let Some(start) = parse(a) else {
                return Ok(None);
            };
            let end = if b.is_empty() {
                u64::MAX
            } else {
                match parse(b) {
                    Some(e) => e,
                    None => return Ok(None),
                }
            };
            if end < start {
                return Ok(None);
            }
            if start >= len {
                return Err(DeliveryError::RangeNotSatisfiable { len });
            }
            (start, end.min(len - 1))
        }
    };
    Ok(Some(range))
}

fn content_type(resource: &Resource) -> &'static str {
    match resource {
        Resource::Mpd => "application/dash+xml",
        Resource::Master | Resource::MediaPlaylist { .. } => "application/vnd.apple.mpegurl",
        Resource::Init { track } if track.starts_with("audio_") => "audio/mp4",
        Resource::Init { .. } => "video/mp4",
        Resource::Segment { .. } => "video/iso.segment",
    }
}

fn is_manifest(resource: &Resource) -> bool {
    matches!(
        resource,
        Resource::Mpd | Resource::Master | Resource::MediaPlaylist { .. }
    )
}

/// `max-age` for this resource: a year for segments, but never past the
/// locator's end time.
fn cache_control(resource: &Resource, locator: &ResolvedLocator, now: OffsetDateTime) -> String {
    if is_manifest(resource) {
        return format!("public, max-age={MANIFEST_MAX_AGE}");
    }
    match locator.end_time {
        Some(end) => {
            let left = (end - now).whole_seconds().clamp(0, SEGMENT_MAX_AGE as i64);
            format!("public, max-age={left}")
        }
        None => format!("public, max-age={SEGMENT_MAX_AGE}, immutable"),
    }
}

async fn serve(
    State(s): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, DeliveryError> {
    // Undecodable percent-escapes and the like name nothing here.
    let Ok(Path((locator, variant, path))) = path else {
        return Err(DeliveryError::NotFound);
    };
    let id = uuid::Uuid::try_parse(&locator).map_err(|_| DeliveryError::NotFound)?;
    let variant = Variant::parse(&variant).ok_or(DeliveryError::NotFound)?;
    let resource = Resource::parse(&path).ok_or(DeliveryError::NotFound)?;
    let d = s.delivery();
    let resolved = resolve::locator(d, s.store(), s.data_dir(), id).await?;
    let now = OffsetDateTime::now_utc();
    if !resolved.is_active_at(now) {
        return Err(DeliveryError::NotFound);
    }
    let plan = resolved.variant(variant).ok_or(DeliveryError::NotFound)?;
    let allowed = match resource {
        Resource::Mpd => plan.dash,
        Resource::Master | Resource::MediaPlaylist { .. } => plan.hls,
        Resource::Init { .. } | Resource::Segment { .. } => true,
    };
    if !allowed {
        return Err(DeliveryError::NotFound);
    }
    let cond = Conditions::from_headers(&headers);
    let state = s.clone();
    let resolved2 = resolved.clone();
    let cc = cache_control(&resource, &resolved, now);
    // Closed never: the semaphore lives as long as the state.
    let permit = d
        .assets
        .workers
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| DeliveryError::internal(format!("origin workers: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let r = respond(&state, &resolved2, variant, &path, &resource, &cond, cc);
        drop(permit);
        r
    })
    .await
    .map_err(|e| DeliveryError::internal(format!("origin task: {e}")))?
}

fn etag_for(tag: &[u8; 32], st: &Stamp, path: &str) -> String {
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(tag);
    h.update(&st.dev.to_be_bytes());
    h.update(&st.ino.to_be_bytes());
    h.update(&st.size.to_be_bytes());
    h.update(&st.mtime_ns.to_be_bytes());
    h.update(path.as_bytes());
    let d = h.finish();
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in d.as_ref().iter().take(16) {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// Blocking part: stat, conditional checks, then build the bytes.
fn respond(
    s: &AppState,
    resolved: &ResolvedLocator,
    variant: Variant,
    path: &str,
    resource: &Resource,
    cond: &Conditions,
    cache_control: String,
) -> Result<Response, DeliveryError> {
    let plan = resolved.variant(variant).ok_or(DeliveryError::NotFound)?;
    let (st, asset) = s.delivery().assets.get(&resolved.asset_dir)?;
    let etag = etag_for(&plan.tag, &st, path);
    let manifest = is_manifest(resource);
    let gz_etag = format!("{}-gz\"", etag.trim_end_matches('"'));
    let use_gzip = manifest && cond.gzip;
    let chosen_etag = if use_gzip { &gz_etag } else { &etag };
    let last_modified = httpdate::fmt_http_date(st.modified);

    let mut base = Response::builder()
        .header(header::ETAG, chosen_etag.as_str())
        .header(header::LAST_MODIFIED, &last_modified)
        .header(header::CACHE_CONTROL, cache_control);
    if manifest {
        base = base.header(header::VARY, "Accept-Encoding");
    } else {
        base = base.header(header::ACCEPT_RANGES, "bytes");
    }

    let not_modified = match (&cond.if_none_match, cond.if_modified_since) {
        (Some(inm), _) => none_match_hits(inm, &[chosen_etag.as_str()]),
        // HTTP dates have whole seconds.
        (None, Some(since)) => st
            .modified
            .duration_since(since)
            .map_or(true, |d| d < Duration::from_secs(1)),
        (None, None) => false,
    };
    if not_modified {
        return base
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(DeliveryError::internal);
    }

    let failed = |e: media::Error| {
        DeliveryError::internal(format!(
            "locator {} {}/{path}: {e}",
            resolved.id,
            variant.as_str()
        ))
    };
    let bytes = if let Resource::Segment { track, number } = resource {
        let setup = resolved
            .setups
            .get(variant, track, st, &asset, &plan.protection)?
            .ok_or(DeliveryError::NotFound)?;
        let pool = &s.delivery().assets.pool;
        let mut buf = pool.take();
        match asset.segment_into(&setup, track, *number, &mut buf) {
            Ok(true) => Bytes::from_owner(Pooled {
                buf,
                pool: pool.clone(),
            }),
            Ok(false) => {
                pool.give(buf);
                return Err(DeliveryError::NotFound);
            }
            Err(e) => {
                pool.give(buf);
                return Err(failed(e));
            }
        }
    } else {
        match asset.get(&plan.protection, resource) {
            Ok(Some(b)) => Bytes::from(b),
            Ok(None) => return Err(DeliveryError::NotFound),
            Err(e) => return Err(failed(e)),
        }
    };
    let base = base.header(header::CONTENT_TYPE, content_type(resource));

    if use_gzip {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(bytes.len() / 4 + 64),
            flate2::Compression::default(),
        );
        enc.write_all(&bytes).map_err(DeliveryError::internal)?;
        let gz = enc.finish().map_err(DeliveryError::internal)?;
        return base
            .header(header::CONTENT_ENCODING, "gzip")
            .body(Body::from(gz))
            .map_err(DeliveryError::internal);
    }
    if !manifest
        && let Some(r) = &cond.range
        && cond.if_range.as_deref().is_none_or(|ir| ir.trim() == etag)
    {
        let len = bytes.len() as u64;
        if let Some((start, end)) = byte_range(r, len)? {
            let (start_ix, end_ix) = (start as usize, end as usize);
            if end_ix >= bytes.len() || start_ix > end_ix {
                return Err(DeliveryError::RangeNotSatisfiable { len });
            }
            let part = bytes.slice(start_ix..=end_ix);
            return base
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
                .body(Body::from(part))
                .map_err(DeliveryError::internal);
        }
    }
    base.body(Body::from(bytes))
        .map_err(DeliveryError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(byte_range("bytes=-1000", 100).unwrap(), Some((0, 99)));
        assert_eq!(byte_range("bytes=50-1000", 100).unwrap(), Some((50, 99)));
        assert!(matches!(
            byte_range("bytes=100-", 100),
            Err(DeliveryError::RangeNotSatisfiable { len: 100 })
        ));
        assert!(matches!(
            byte_range("bytes=-0", 100),
            Err(DeliveryError::RangeNotSatisfiable { .. })
        ));
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=99999999999999999999-",
        ] {
            assert_eq!(byte_range(ignored, 100).unwrap(), None, "{ignored}");
        }
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("br"));
    }

    #[test]
    fn buffer_pool_recycles_and_is_bounded() {
        let pool = Arc::new(BufferPool::default());
        assert_eq!(pool.take().capacity(), 0);
        // A body's buffer comes back when the body is dropped.
        let mut buf = pool.take();
        buf.extend_from_slice(&[7u8; 1000]);
        let cap = buf.capacity();
        let ptr = buf.as_ptr();
        let body = Bytes::from_owner(Pooled {
            buf,
            pool: pool.clone(),
        });
        let part = body.slice(10..20);
        drop(body);
        assert_eq!(pool.idle(), (0, 0), "still referenced by a slice");
        assert_eq!(&part[..], &[7u8; 10]);
        drop(part);
        assert_eq!(pool.idle(), (1, cap));
        let again = pool.take();
        assert!(again.is_empty() && again.as_ptr() == ptr && again.capacity() == cap);
        // Neither more buffers nor more bytes than the bounds.
        for _ in 0..POOL_MAX_BUFFERS + 5 {
            pool.give(Vec::with_capacity(16));
        }
        assert_eq!(pool.idle().0, POOL_MAX_BUFFERS);
        let pool = BufferPool::default();
        pool.give(Vec::with_capacity(POOL_MAX_BYTES + 1));
        pool.give(Vec::new());
        assert_eq!(pool.idle(), (0, 0));
    }

    #[test]
    fn if_none_match() {
        assert!(none_match_hits("\"abc\"", &["\"abc\""]));
        assert!(none_match_hits("\"x\", W/\"abc\"", &["\"abc\""]));
        assert!(none_match_hits("*", &["\"abc\""]));
        assert!(!none_match_hits("\"abd\"", &["\"abc\""]));
    }
}
