//! The origin: `GET|HEAD /s/{streamingLocatorId}/{variant}/{resource}`
//! serves a stored clear asset as DASH and HLS, encrypted on request for
//! the locator (issue 5; dynamic packaging by [`media::origin`]).
//!
//! CDN behaviour (RFC 9110, RFC 9111):
//! - strong `ETag` = digest of (asset identity, locator, variant, key ids,
//!   license URLs, path): the bytes are a pure function of these, so the tag
//!   is known before any encryption and a revalidation (`If-None-Match`,
//!   §13.1.2; `If-Modified-Since`, §13.1.3) costs a `stat`, not a segment;
//! - `Last-Modified` = when the asset was ingested (`index.json` mtime or
//!   last-modified); for a media segment on local files, its own file's
//!   identity and mtime stand for the asset's in both validators (a live
//!   recording rewrites `index.json` at every fragment, never a segment);
//! - `Cache-Control: public, max-age=31536000, immutable` on init and media
//!   segments (shortened to the locator's end time when it has one), and
//!   `max-age=2` on manifests (`max-age=1` while the asset is live);
//! - single byte ranges on segments (§14: 206 with `Content-Range`, 416
//!   with `bytes */len` past the end; several ranges get the whole 200);
//! - manifests gzip-compressed when `Accept-Encoding` allows (their ETag
//!   then ends in `-gz`, §8.8.3: a strong tag names one representation),
//!   with `Vary: Accept-Encoding`;
//! - HEAD from the same handler, with the length GET would send: a media
//!   segment is measured, not encrypted ([`TrackSetup::segment_len`]).
//!
//! Bad input never reaches the file system: the locator must be a UUID,
//! the variant one of four words, the resource what
//! [`media::origin::Resource::parse`] accepts (no `..`, no leading zeros);
//! everything else is 404. Outside the locator's time window, 404.
//! A segment request reads only that segment's clear file
//! ([`media::origin::OriginAsset::segment_into`]) on the blocking pool.
//!
//! Media live in the server's [`store::MediaStore`]. On local files the
//! whole response is built on one blocking thread, with a `stat` of
//! `index.json` per request as the freshness check. On object storage
//! (`--media-url s3://...`) an opened asset (its `index.json` and init
//! segments) is trusted for the delivery cache TTL, then rechecked with one
//! HEAD of `index.json` (reopened when its ETag or last-modified changed);
//! a segment is one GET into a pooled buffer, then protected in place on
//! the blocking pool. The ETag then derives from the object's ETag, so
//! every node reading the same bucket sends the same validators.
//!
//! Hot path (measured with `perf` under `wrk`, bench/origin.sh): a media
//! segment served before is answered from the segment cache
//! ([`super::segment_cache`]: one copy into the socket, as a file server
//! sending pre-encrypted files does). Otherwise the per-track protection
//! (AES key schedule, subsample generator, PSSH, signalling) is built once
//! per cached locator resolution ([`SetupCache`]), and keeps the plans of
//! the segments it served lately (slice headers are parsed once, not per
//! request); the clear file is mapped, not read, and each sample is copied
//! out of the page cache into a pooled buffer and encrypted there while it
//! is in the CPU's cache (one pass; the buffer goes to hyper without a
//! copy, [`BufferPool`]: recycled buffers avoid the page faults and
//! `madvise` of fresh ~1 MB allocations); and at most
//! [`AssetCache::new`]'s `workers` segments are built at once, so 100
//! clients do not mean 100 blocking threads fighting over two cores and
//! 100 segment buffers alive. What a segment built afresh still costs is
//! the copy out of the page cache, AES, and the copy into the socket.

use super::error::DeliveryError;
use super::resolve::{self, ResolvedLocator, Variant};
use crate::AppState;
use axum::Router;
use axum::body::HttpBody as _;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use media::cmaf::PROTECTION_HEADROOM;
use media::origin::{OriginAsset, Resource};
use media::package::{Protection, TrackSetup};
use super::segment_cache::Lookup;
use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use time::OffsetDateTime;

/// One year, the longest `max-age` RFC 9111 §5.2.2.1 suggests honouring.
const SEGMENT_MAX_AGE: u64 = 31_536_000;
/// Manifests may change when the locator does; caches recheck them soon.
const MANIFEST_MAX_AGE: u64 = 2;
/// Manifests of a live asset, renewed every half segment.
const LIVE_MANIFEST_MAX_AGE: u64 = 1;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/s/{locator}/{variant}/{*path}", get(serve))
}

/// Identity of an asset's `index.json`: an upload swaps the folder (which
/// changes the inode and mtime) or writes a new object (new ETag and
/// last-modified).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    id: Identity,
    modified: SystemTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Identity {
    File {
        dev: u64,
        ino: u64,
        size: u64,
        mtime_ns: i128,
    },
    Object(Arc<store::media::ObjectStamp>),
}

fn stamp(dir: &FsPath) -> std::io::Result<Stamp> {
    std::fs::metadata(dir.join(media::asset::INDEX_FILE)).map(|m| file_stamp(&m))
}

/// The identity of a local file from its metadata.
fn file_stamp(m: &std::fs::Metadata) -> Stamp {
    Stamp {
        id: Identity::File {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        },
        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

impl Stamp {
    fn object(o: store::media::ObjectStamp) -> Stamp {
        Stamp {
            modified: o.modified,
            id: Identity::Object(Arc::new(o)),
        }
    }
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

/// A pooled buffer as a response body, `buf[start..]`: back to its pool
/// when dropped.
struct Pooled {
    buf: Vec<u8>,
    start: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
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

/// (variant, track name, key period) of a cached [`TrackSetup`].
type SetupKey = (Variant, String, u32);

impl SetupCache {
    /// Blocking (builds PSSH and the key schedule on a miss). `Ok(None)`
    /// when the asset has no such track, so only real tracks are cached.
    /// `period` is the key period (0 without key rotation), whose keys
    /// are derived from `protection`'s on a miss.
    #[allow(clippy::too_many_arguments)]
    fn get(
        &self,
        variant: Variant,
        track: &str,
        period: u32,
        st: Stamp,
        asset: &OriginAsset,
        protection: &Protection,
    ) -> Result<Option<Arc<TrackSetup>>, DeliveryError> {
        let key = (variant, track.to_owned(), period);
        if let Some((s, setup)) = self.map.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *s == st
        {
            return Ok(Some(setup.clone()));
        }
        let period_protection;
        let protection = if period == 0 {
            protection
        } else {
            period_protection = media::rotation::period_protection(protection, period);
            &period_protection
        };
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

/// An opened asset on object storage, and when its stamp was checked.
type RemoteAsset = (Stamp, Arc<OriginAsset>, Instant);

/// Opened assets by folder; an entry is reopened when its stamp changes.
/// Also what every origin request shares: the segment buffer pool and the
/// bound on segments built at once.
pub(crate) struct AssetCache {
    capacity: usize,
    map: RwLock<HashMap<PathBuf, (Stamp, Arc<OriginAsset>)>>,
    /// Assets on object storage by `storage.path`, with when their stamp
    /// was last checked.
    remote: RwLock<HashMap<String, RemoteAsset>>,
    /// How long a remote stamp is trusted before a HEAD rechecks it.
    remote_ttl: Duration,
    /// One remote open at a time: a cold start under load opens each asset
    /// once, not once per waiting request.
    opening: tokio::sync::Mutex<()>,
    pool: Arc<BufferPool>,
    workers: Arc<tokio::sync::Semaphore>,
    /// Media segments as served (`--origin-cache-mb`).
    pub(crate) segments: super::segment_cache::SegmentCache,
}

impl AssetCache {
    /// `capacity` opened assets; segments are built by at most twice as
    /// many blocking threads as there are cores; an asset on object storage
    /// is rechecked (one HEAD of its `index.json`) after `remote_ttl`;
    /// up to `segment_cache_bytes` of served media segments are kept.
    pub(crate) fn new(capacity: usize, remote_ttl: Duration, segment_cache_bytes: u64) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        AssetCache {
            capacity: capacity.max(1),
            map: RwLock::new(HashMap::new()),
            remote: RwLock::new(HashMap::new()),
            remote_ttl,
            opening: tokio::sync::Mutex::new(()),
            pool: Arc::new(BufferPool::default()),
            workers: Arc::new(tokio::sync::Semaphore::new(cores * 2)),
            segments: super::segment_cache::SegmentCache::new(segment_cache_bytes),
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
        map.insert(dir.to_owned(), (st.clone(), asset.clone()));
        Ok((st, asset))
    }

    /// The asset at `path` in object storage: from the cache while its
    /// stamp is fresh, else after a HEAD of `index.json`, reopened (GET of
    /// `index.json` and the init segments) when that changed. An asset
    /// without `index.json` is not (or not yet completely) uploaded: 404.
    async fn get_remote(
        &self,
        media: &store::MediaStore,
        path: &str,
    ) -> Result<(Stamp, Arc<OriginAsset>), DeliveryError> {
        if let Some(hit) = self.remote_hit(path, None) {
            return Ok(hit);
        }
        let _opening = self.opening.lock().await;
        if let Some(hit) = self.remote_hit(path, None) {
            return Ok(hit);
        }
        let failed =
            |e: store::MediaStoreError| DeliveryError::internal(format!("asset {path}: {e}"));
        let Some(head) = media
            .head(path, media::asset::INDEX_FILE)
            .await
            .map_err(failed)?
        else {
            tracing::warn!(asset = %path, store = %media.describe(), "no index.json in the media store (not ingested?)");
            return Err(DeliveryError::NotFound);
        };
        if let Some(hit) = self.remote_hit(path, Some(&Stamp::object(head))) {
            return Ok(hit);
        }
        let mut bytes = Vec::new();
        let Some(index_stamp) = media
            .read_into(path, media::asset::INDEX_FILE, &mut bytes, 0)
            .await
            .map_err(failed)?
        else {
            return Err(DeliveryError::NotFound);
        };
        let index = media::asset::AssetIndex::parse(&bytes, &format!("{path}/index.json"))
            .map_err(|e| DeliveryError::internal(format!("asset {path}: {e}")))?;
        let mut inits = HashMap::new();
        for t in &index.tracks {
            let rel = format!("{}/init.mp4", t.name);
            let mut init = Vec::new();
            if media
                .read_into(path, &rel, &mut init, 0)
                .await
                .map_err(failed)?
                .is_none()
            {
                return Err(DeliveryError::internal(format!(
                    "asset {path}: index.json names {rel}, which is missing"
                )));
            }
            inits.insert(t.name.clone(), init);
        }
        let asset = OriginAsset::from_parts(index, |name| {
            inits
                .remove(name)
                .ok_or_else(|| media::Error::Segment(format!("{name}/init.mp4 not fetched")))
        })
        .map_err(|e| DeliveryError::internal(format!("asset {path}: {e}")))?;
        let (st, asset) = (Stamp::object(index_stamp), Arc::new(asset));
        let mut map = self.remote.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity
            && !map.contains_key(path)
            && let Some(k) = map.keys().next().cloned()
        {
            map.remove(&k);
        }
        map.insert(path.to_owned(), (st.clone(), asset.clone(), Instant::now()));
        Ok((st, asset))
    }

    /// A cached remote asset: fresh by age, or (with `checked`) by a stamp
    /// just read, which renews its age.
    fn remote_hit(&self, path: &str, checked: Option<&Stamp>) -> Option<(Stamp, Arc<OriginAsset>)> {
        match checked {
            None => {
                let map = self.remote.read().unwrap_or_else(|p| p.into_inner());
                let (st, asset, at) = map.get(path)?;
                (at.elapsed() < self.remote_ttl).then(|| (st.clone(), asset.clone()))
            }
            Some(now) => {
                let mut map = self.remote.write().unwrap_or_else(|p| p.into_inner());
                let (st, asset, at) = map.get_mut(path)?;
                if st != now {
                    return None;
                }
                *at = Instant::now();
                Some((st.clone(), asset.clone()))
            }
        }
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
        Resource::Master | Resource::MediaPlaylist { .. } | Resource::IframePlaylist { .. } => "application/vnd.apple.mpegurl",
        Resource::Init { track } if track.starts_with("audio_") => "audio/mp4",
        Resource::Init { track } if track.starts_with("text_") => "application/mp4",
        Resource::Init { .. } => "video/mp4",
        Resource::PeriodInit { track, .. } if track.starts_with("audio_") => "audio/mp4",
        Resource::PeriodInit { track, .. } if track.starts_with("text_") => "application/mp4",
        Resource::PeriodInit { .. } => "video/mp4",
        Resource::Segment { .. } => "video/iso.segment",
        Resource::TextSegment { .. } | Resource::Sidecar { .. } => "text/vtt; charset=utf-8",
    }
}

fn is_manifest(resource: &Resource) -> bool {
    matches!(
        resource,
        Resource::Mpd | Resource::Master | Resource::MediaPlaylist { .. } | Resource::IframePlaylist { .. }
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

/// A live asset's manifests change every segment, and players reload them
/// every `minimumUpdatePeriod` (half a segment): caches keep them 1 s.
fn live_cache_control(asset: &OriginAsset, resource: &Resource, cc: String) -> String {
    let live = asset.index.live.as_ref().is_some_and(|l| !l.ended);
    if live && is_manifest(resource) {
        return format!("public, max-age={LIVE_MANIFEST_MAX_AGE}");
    }
    cc
}

async fn serve(
    State(s): State<AppState>,
    method: Method,
    path: Result<Path<(String, String, String)>, PathRejection>,
    origin: Option<axum::Extension<crate::forwarded::RequestOrigin>>,
    headers: HeaderMap,
) -> Result<Response, DeliveryError> {
    // Undecodable percent-escapes and the like name nothing here.
    let Ok(Path((locator, variant, path))) = path else {
        return Err(DeliveryError::NotFound);
    };
    let id = uuid::Uuid::try_parse(&locator).map_err(|_| DeliveryError::NotFound)?;
    let variant = Variant::parse(&variant).ok_or(DeliveryError::NotFound)?;
    let resource = Resource::parse(&path).ok_or(DeliveryError::NotFound)?;
    // Counted from here on: the labels are known and bounded.
    let kind = crate::metrics::resource_kind(&resource);
    let started = Instant::now();
    let origin = origin.map(|axum::Extension(o)| o);
    let head = method == Method::HEAD;
    let res = respond(
        s.clone(),
        id,
        variant,
        path,
        resource,
        origin,
        headers,
        head,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response);
    let bytes = match method {
        Method::HEAD => 0,
        _ => res.body().size_hint().exact().unwrap_or(0),
    };
    s.metrics()
        .origin(variant, kind, res.status(), bytes, started.elapsed());
    Ok(res)
}

/// The opened asset of `resolved`, from local files (a `stat` on the
/// blocking pool) or object storage.
pub(crate) async fn open_asset(
    s: &AppState,
    resolved: &Arc<ResolvedLocator>,
) -> Result<Arc<OriginAsset>, DeliveryError> {
    let d = s.delivery();
    if d.media.local_root().is_some() {
        let (s, dir) = (s.clone(), resolved.asset_dir.clone());
        return tokio::task::spawn_blocking(move || s.delivery().assets.get(&dir).map(|(_, a)| a))
            .await
            .map_err(|e| DeliveryError::internal(format!("origin task: {e}")))?;
    }
    d.assets.get_remote(&d.media, &resolved.asset_path).await.map(|(_, a)| a)
}

/// The locator `id` resolved for a request: its manifests name the public
/// base this request reached us by (a trusted proxy's host, else the
/// configured public URL).
pub(super) async fn resolve_for_request(
    s: &AppState,
    id: uuid::Uuid,
    origin: Option<&crate::forwarded::RequestOrigin>,
    headers: &HeaderMap,
) -> Result<Arc<ResolvedLocator>, DeliveryError> {
    let d = s.delivery();
    let local_root = d.media.local_root().unwrap_or(s.data_dir());
    let base = origin.and_then(|o| d.config().guard.forwarded.public_base(o, headers));
    let base = base.as_deref().unwrap_or(&d.config().public_base_url);
    resolve::locator(d, s.store(), local_root, id, base).await
}

/// The response to a parsed origin request; `head` for HEAD, whose media
/// segments are measured, not encrypted.
#[allow(clippy::too_many_arguments)]
async fn respond(
    s: AppState,
    id: uuid::Uuid,
    variant: Variant,
    path: String,
    resource: Resource,
    origin: Option<crate::forwarded::RequestOrigin>,
    headers: HeaderMap,
    head: bool,
) -> Result<Response, DeliveryError> {
    let d = s.delivery();
    let resolved = resolve_for_request(&s, id, origin.as_ref(), &headers).await?;
    let now = OffsetDateTime::now_utc();
    if !resolved.is_active_at(now) {
        return Err(DeliveryError::NotFound);
    }
    let plan = resolved.variant(variant).ok_or(DeliveryError::NotFound)?;
    let allowed = match resource {
        Resource::Mpd => plan.dash,
        Resource::Master | Resource::MediaPlaylist { .. } | Resource::IframePlaylist { .. } => plan.hls,
        Resource::TextSegment { .. } => plan.hls,
        Resource::Sidecar { .. } => plan.dash,
        Resource::Init { .. } | Resource::Segment { .. } => true,
        Resource::PeriodInit { .. } => plan.rotation.is_some(),
    };
    if !allowed {
        return Err(DeliveryError::NotFound);
    }
    if let Some(rotation) = plan.rotation
        && is_manifest(&resource)
    {
        super::rotation::ensure_period_keys(&s, &resolved, rotation).await?;
    }
    let cond = Conditions::from_headers(&headers);
    let cc = cache_control(&resource, &resolved, now);
    if d.media.local_root().is_some() {
        return serve_local(
            s.clone(),
            resolved.clone(),
            variant,
            path,
            resource,
            cond,
            cc,
            head,
        )
        .await;
    }

    // Object storage: the stamp (cached, or one HEAD), the conditional
    // checks, then one GET of the segment into a pooled buffer; protection
    // runs on the blocking pool.
    let (st, asset) = d.assets.get_remote(&d.media, &resolved.asset_path).await?;
    let cc = live_cache_control(&asset, &resource, cc);
    let prepared = match prepare(plan, &st, &path, &resource, &cond, cc)? {
        Ok(p) => p,
        Err(not_modified) => return Ok(not_modified),
    };
    // A kept segment answers without a fetch. (No waiting for another
    // request building the same segment here: that one runs on other
    // tasks, across an object storage fetch.)
    let cache_key = keepable(&resource, head).then(|| etag_for(&plan.bytes_tag, &st, &path));
    if let Some(key) = &cache_key
        && let Some(b) = d.assets.segments.get(key)
    {
        s.metrics().segment_cache(true, None);
        return finish(prepared, &resource, &cond, Built::Body(b));
    }
    let clear = match &resource {
        Resource::Segment { track, number } => {
            let file = asset
                .segment_file(track, *number)
                .ok_or(DeliveryError::NotFound)?;
            let pool = &d.assets.pool;
            let mut buf = pool.take();
            match d
                .media
                .read_into(&resolved.asset_path, &file, &mut buf, PROTECTION_HEADROOM)
                .await
            {
                Ok(Some(_)) => Some(buf),
                Ok(None) => {
                    pool.give(buf);
                    tracing::warn!(asset = %resolved.asset_path, file, "index.json names a segment the media store does not have");
                    return Err(DeliveryError::NotFound);
                }
                Err(e) => {
                    pool.give(buf);
                    return Err(DeliveryError::internal(format!(
                        "asset {}: {e}",
                        resolved.asset_path
                    )));
                }
            }
        }
        // Subtitles are served as stored, never encrypted.
        Resource::TextSegment { track, .. } | Resource::Sidecar { track } => {
            let number = match &resource {
                Resource::TextSegment { number, .. } => Some(*number),
                _ => None,
            };
            let file = asset.text_file(track, number).ok_or(DeliveryError::NotFound)?;
            let pool = &d.assets.pool;
            let mut buf = pool.take();
            match d.media.read_into(&resolved.asset_path, &file, &mut buf, 0).await {
                Ok(Some(_)) => Some(buf),
                Ok(None) => {
                    pool.give(buf);
                    return Err(DeliveryError::NotFound);
                }
                Err(e) => {
                    pool.give(buf);
                    return Err(DeliveryError::internal(format!("asset {}: {e}", resolved.asset_path)));
                }
            }
        }
        _ => None,
    };
    let permit = workers(d).await?;
    tokio::task::spawn_blocking(move || {
        let body = build(
            &s, &resolved, variant, &st, &asset, &path, &resource, clear, head,
        );
        drop(permit);
        let body = body?;
        if let Some(key) = cache_key
            && let Built::Body(b) = &body
        {
            let segments = &s.delivery().assets.segments;
            segments.insert(key, b);
            s.metrics().segment_cache(false, Some(segments.weight()));
        }
        finish(prepared, &resource, &cond, body)
    })
    .await
    .map_err(|e| DeliveryError::internal(format!("origin task: {e}")))?
}

/// Blocking (a `stat`): the identity of the local file of media segment
/// `resource` (device, inode, size, modification time: a new upload or
/// recording writes a new file). `None` for other resources, or when the
/// file is not there (the request then fails as it would without it).
/// With the variant plan's `bytes_tag` and the path it is also the
/// segment cache key.
fn segment_stamp(asset: &OriginAsset, resource: &Resource) -> Option<Stamp> {
    let Resource::Segment { track, number } = resource else {
        return None;
    };
    let file = asset.local_segment(track, *number).ok()??;
    std::fs::metadata(file).ok().map(|m| file_stamp(&m))
}

/// Whether the answer to `resource` is kept in the segment cache: media
/// segments, for GET (HEAD sends no body and is answered without
/// encrypting).
fn keepable(resource: &Resource, head: bool) -> bool {
    !head && matches!(resource, Resource::Segment { .. })
}

/// A permit to build one response body: at most [`AssetCache::new`]'s
/// bound of them at once.
async fn workers(d: &super::Delivery) -> Result<tokio::sync::OwnedSemaphorePermit, DeliveryError> {
    // Closed never: the semaphore lives as long as the state.
    d.assets
        .workers
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| DeliveryError::internal(format!("origin workers: {e}")))
}

/// Local files: the whole response on one blocking thread (a `stat` of
/// `index.json`, conditional checks, one read of the segment file,
/// protection in place), as fast as the files allow.
#[allow(clippy::too_many_arguments)]
async fn serve_local(
    s: AppState,
    resolved: Arc<ResolvedLocator>,
    variant: Variant,
    path: String,
    resource: Resource,
    cond: Conditions,
    cc: String,
    head: bool,
) -> Result<Response, DeliveryError> {
    let permit = workers(s.delivery()).await?;
    tokio::task::spawn_blocking(move || {
        let r = (|| {
            let plan = resolved.variant(variant).ok_or(DeliveryError::NotFound)?;
            let (st, asset) = s.delivery().assets.get(&resolved.asset_dir)?;
            let cc = live_cache_control(&asset, &resource, cc);
            // A media segment's validators and cache key come from its own
            // file, not from `index.json`: a live recording rewrites its
            // index at every fragment, its segments never, so a CDN's copy
            // stays current (304) and the segment cache keeps the live edge.
            let segment = segment_stamp(&asset, &resource);
            let prepared = match prepare(plan, segment.as_ref().unwrap_or(&st), &path, &resource, &cond, cc)? {
                Ok(p) => p,
                Err(not_modified) => return Ok(not_modified),
            };
            // Only GETs of media segments whose file is there are kept.
            let key = segment
                .filter(|_| keepable(&resource, head))
                .map(|seg| etag_for(&plan.bytes_tag, &seg, &path));
            let segments = &s.delivery().assets.segments;
            let builder = match key.map(|key| segments.lookup(&key)) {
                Some(Lookup::Hit(b)) => {
                    s.metrics().segment_cache(true, None);
                    return finish(prepared, &resource, &cond, Built::Body(b));
                }
                Some(Lookup::Build(builder)) => Some(builder),
                None => None,
            };
            let body = build(
                &s, &resolved, variant, &st, &asset, &path, &resource, None, head,
            )?;
            if let (Some(builder), Built::Body(b)) = (builder, &body) {
                builder.keep(b);
                s.metrics().segment_cache(false, Some(segments.weight()));
            }
            finish(prepared, &resource, &cond, body)
        })();
        drop(permit);
        r
    })
    .await
    .map_err(|e| DeliveryError::internal(format!("origin task: {e}")))?
}

fn etag_for(tag: &[u8; 32], st: &Stamp, path: &str) -> String {
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    h.update(tag);
    match &st.id {
        Identity::File {
            dev,
            ino,
            size,
            mtime_ns,
        } => {
            h.update(&dev.to_be_bytes());
            h.update(&ino.to_be_bytes());
            h.update(&size.to_be_bytes());
            h.update(&mtime_ns.to_be_bytes());
        }
        // The same on every node that reads the same bucket.
        Identity::Object(o) => {
            for part in [&o.e_tag, &o.version] {
                let part = part.as_deref().unwrap_or("").as_bytes();
                h.update(&(part.len() as u64).to_be_bytes());
                h.update(part);
            }
            h.update(&o.size.to_be_bytes());
            let since = o
                .modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            h.update(&since.as_nanos().to_be_bytes());
        }
    }
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

/// What a response says before its body exists.
struct Prepared {
    base: axum::http::response::Builder,
    etag: String,
    manifest: bool,
    use_gzip: bool,
}

/// Validators, caching headers and the conditional checks: `Ok(Err(304))`
/// when the client's copy is current, so no body is built (or fetched).
fn prepare(
    plan: &resolve::VariantPlan,
    st: &Stamp,
    path: &str,
    resource: &Resource,
    cond: &Conditions,
    cache_control: String,
) -> Result<Result<Prepared, Response>, DeliveryError> {
    let etag = etag_for(&plan.tag, st, path);
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
            .map(Err)
            .map_err(DeliveryError::internal);
    }
    Ok(Ok(Prepared {
        base,
        etag,
        manifest,
        use_gzip,
    }))
}

/// A response body, or for HEAD of a media segment only its length.
enum Built {
    Body(Bytes),
    /// What the body's length would be: HEAD is answered without
    /// encrypting the segment.
    Len(u64),
}

/// Blocking: the body. A segment is protected in place in a pooled
/// buffer: `clear` when its bytes were already fetched (object storage),
/// else read from the local file. With `head`, a media segment is only
/// measured ([`TrackSetup::segment_len`]): the bytes HEAD does not send are
/// not encrypted.
#[allow(clippy::too_many_arguments)]
fn build(
    s: &AppState,
    resolved: &ResolvedLocator,
    variant: Variant,
    st: &Stamp,
    asset: &OriginAsset,
    path: &str,
    resource: &Resource,
    clear: Option<Vec<u8>>,
    head: bool,
) -> Result<Built, DeliveryError> {
    let plan = resolved.variant(variant).ok_or(DeliveryError::NotFound)?;
    let failed = |e: media::Error| {
        DeliveryError::internal(format!(
            "locator {} {}/{path}: {e}",
            resolved.id,
            variant.as_str()
        ))
    };
    let pool = &s.delivery().assets.pool;
    let pooled = |buf: Vec<u8>, start: usize| {
        Built::Body(Bytes::from_owner(Pooled {
            buf,
            start,
            pool: pool.clone(),
        }))
    };
    let Resource::Segment { track, number } = resource else {
        if let Some(buf) = clear {
            if matches!(resource, Resource::TextSegment { .. } | Resource::Sidecar { .. }) {
                // Object storage: the file as read, unchanged.
                return Ok(pooled(buf, 0));
            }
            pool.give(buf);
        }
        let got = match plan.rotation {
            Some(r) => asset.get_rotated(&plan.protection, r, resource, Some(&resolved.time_url)),
            None => asset.get_with(&plan.protection, resource, Some(&resolved.time_url)),
        };
        return match got {
            Ok(Some(b)) => Ok(Built::Body(Bytes::from(b))),
            Ok(None) => Err(DeliveryError::NotFound),
            Err(e) => Err(failed(e)),
        };
    };
    let period = plan.rotation.map_or(0, |r| {
        media::rotation::period_of(r.period_len(&asset.index), u64::from(*number))
    });
    let setup = match resolved
        .setups
        .get(variant, track, period, st.clone(), asset, &plan.protection)
    {
        Ok(Some(setup)) => setup,
        other => {
            if let Some(buf) = clear {
                pool.give(buf);
            }
            return Err(other.err().unwrap_or(DeliveryError::NotFound));
        }
    };
    let fetched = clear.is_some();
    let mut buf = clear.unwrap_or_else(|| pool.take());
    let done = if head {
        let len = if fetched {
            setup.segment_len(&buf).map(Some)
        } else {
            asset.segment_len(&setup, track, *number)
        };
        pool.give(buf);
        return match len {
            Ok(Some(n)) => Ok(Built::Len(n)),
            Ok(None) => Err(DeliveryError::NotFound),
            Err(e) => Err(failed(e)),
        };
    } else if fetched {
        setup.segment_at(*number, &mut buf, 0).map(Some)
    } else {
        asset.segment_into(&setup, track, *number, &mut buf)
    };
    match done {
        Ok(Some(start)) => Ok(pooled(buf, start)),
        Ok(None) => {
            pool.give(buf);
            Err(DeliveryError::NotFound)
        }
        Err(e) => {
            pool.give(buf);
            Err(failed(e))
        }
    }
}

/// Gzip for manifests, a single byte range for segments, else the whole;
/// for a [`Built::Len`] (HEAD), the same headers with no body.
fn finish(
    p: Prepared,
    resource: &Resource,
    cond: &Conditions,
    built: Built,
) -> Result<Response, DeliveryError> {
    let base = p.base.header(header::CONTENT_TYPE, content_type(resource));
    let (len, bytes) = match built {
        Built::Body(b) => (b.len() as u64, Some(b)),
        Built::Len(n) => (n, None),
    };
    if p.use_gzip
        && let Some(bytes) = &bytes
    {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(bytes.len() / 4 + 64),
            flate2::Compression::default(),
        );
        enc.write_all(bytes).map_err(DeliveryError::internal)?;
        let gz = enc.finish().map_err(DeliveryError::internal)?;
        return base
            .header(header::CONTENT_ENCODING, "gzip")
            .body(Body::from(gz))
            .map_err(DeliveryError::internal);
    }
    // HEAD: the length the body would have (axum keeps a Content-Length
    // it is given).
    let body = |bytes: Option<Bytes>, part: std::ops::RangeInclusive<u64>| match bytes {
        Some(b) => Body::from(b.slice(*part.start() as usize..=*part.end() as usize)),
        None => Body::empty(),
    };
    if !p.manifest
        && let Some(r) = &cond.range
        && cond
            .if_range
            .as_deref()
            .is_none_or(|ir| ir.trim() == p.etag)
        && let Some((start, end)) = byte_range(r, len)?
    {
        if end >= len || start > end {
            return Err(DeliveryError::RangeNotSatisfiable { len });
        }
        return base
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
            .header(header::CONTENT_LENGTH, end - start + 1)
            .body(body(bytes, start..=end))
            .map_err(DeliveryError::internal);
    }
    match bytes {
        Some(b) => base.body(Body::from(b)),
        None => base.header(header::CONTENT_LENGTH, len).body(Body::empty()),
    }
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
            start: 0,
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
