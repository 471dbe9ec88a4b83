//! Live ingest over HTTP (DASH-IF Live Media Ingest, Interface 1: CMAF
//! pushed by POST or PUT) and the clock live players read, beside the
//! origin rather than inside it (DESIGN.md): this module only writes
//! assets, and the origin serves them by the index it reads for VOD.
//!
//! `POST|PUT /ingest/{event}/{accessToken}/{stream}[/{file}]`: the first
//! path part after the token names the stream (`Streams(video)` as the
//! spec's examples, or anything else); one long chunked request per stream
//! as ffmpeg sends it, or one request per header and per segment. The
//! body is parsed as it arrives ([`media::live::StreamParser`]: at most one
//! fragment held, the limit configurable) and each fragment is appended to
//! the asset of every live output of the event, durably, before the next
//! is read: the answer to the request (200) comes once all of it is
//! stored. Answers as the spec asks: 404 unknown event (or one not
//! running), 403 wrong access token (compared in constant time; nothing
//! stored, and the log names the event, never the token), 412 a fragment
//! before the stream's header, 413 a fragment over the limit, 415 not MP4,
//! 400 anything else refused. A refused request leaves the recording as it
//! was: what was stored before keeps being served.
//!
//! Sessions: the first request of a running event opens the recordings of
//! its outputs ([`media::live::LiveAsset`]) and keeps them here until the
//! event stops; stopping marks each recording ended (its manifests turn
//! VOD) and ends the requests still pushing.
//!
//! The RTMP listener ([`crate::live_rtmp`]) authorizes with
//! [`authorize`] and stores the CMAF it remuxes with [`store_unit`], so both
//! ingests write recordings by the same code.
//!
//! `GET /time`: the server's clock as ISO 8601 with milliseconds, for DASH
//! `UTCTiming` (`urn:mpeg:dash:utc:http-iso:2014`).

use crate::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use keys::model::LiveEventInputProtocol;
use keys::model::{LiveEvent, LiveEventResourceState};
use media::live::{LiveAsset, LiveError, LiveSettings, StreamParser, Unit};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a request waits for a recording another process holds (a
/// session of this node closing, another node's request ending) before
/// the 409.
const BUSY_WAIT: Duration = Duration::from_secs(3);
/// How often a pushing request rereads its event from the store: a stop
/// made on another node ends it within this.
const STATE_RECHECK: Duration = Duration::from_secs(1);
/// PBKDF2-HMAC-SHA256 rounds for ingest passwords (about 50 ms here; paid
/// once per ingest request).
const PASSWORD_ROUNDS: u32 = 100_000;
/// How long a stop waits for the pushes still under way to store what
/// they have received: an encoder that just ended its push may still have
/// its last fragment in flight (its request ends when the server has read
/// it, not when the encoder closed). A push that goes on is cut after it.
const STOP_DRAIN: Duration = Duration::from_secs(3);

/// The open recordings of running events. A session lives while requests
/// push (they hold it): when the last ends, its recordings close and their
/// folder locks go, so that another node (or this one, later) can go on.
#[derive(Default)]
pub(crate) struct Registry {
    sessions: tokio::sync::Mutex<HashMap<String, Weak<Session>>>,
    /// Largest fragment or header accepted, bytes.
    pub(crate) max_fragment: std::sync::atomic::AtomicU64,
    /// `rtmp://HOST:PORT/live` when the RTMP listener is on: events may
    /// take RTMP, and their endpoints name it.
    pub(crate) rtmp_base: std::sync::RwLock<Option<String>>,
    /// (event, stream) pairs an RTMP encoder is publishing: one at a time.
    pub(crate) rtmp_publishing: std::sync::Mutex<HashSet<(String, String)>>,
}

/// The recordings of one running event.
pub(crate) struct Session {
    recordings: Vec<Recording>,
    stopped: AtomicBool,
    /// Pushes (ingest requests, RTMP publishes) under way.
    pushing: AtomicUsize,
    pushes_ended: tokio::sync::Notify,
}

/// One push under way ([`Session::push_started`]); a stop lets it end.
pub(crate) struct PushGuard(Arc<Session>);

impl Drop for PushGuard {
    fn drop(&mut self) {
        if self.0.pushing.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.pushes_ended.notify_waiters();
        }
    }
}

struct Recording {
    output: String,
    asset_dir: std::path::PathBuf,
    writer: Arc<Mutex<LiveAsset>>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            max_fragment: std::sync::atomic::AtomicU64::new(media::live::DEFAULT_MAX_FRAGMENT),
            ..Default::default()
        }
    }

    /// The session of a running event, opening its recordings on first use.
    pub(crate) async fn session(
        &self,
        s: &AppState,
        event: &LiveEvent,
    ) -> Result<Arc<Session>, Refusal> {
        let mut sessions = self.sessions.lock().await;
        if let Some(session) = sessions.get(&event.name).and_then(Weak::upgrade) {
            return Ok(session);
        }
        sessions.retain(|_, w| w.strong_count() > 0);
        let outputs = s
            .store()
            .live_outputs_of(&event.name)
            .await
            .map_err(Refusal::internal)?;
        if outputs.is_empty() {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "no_output",
                "no live output records this event",
            ));
        }
        let Some(root) = s.media().local_root().map(std::path::Path::to_owned) else {
            return Err(Refusal::new(
                StatusCode::NOT_IMPLEMENTED,
                "media_not_local",
                "live recording needs the local media store",
            ));
        };
        let mut recordings = Vec::new();
        for o in outputs {
            let asset = s
                .store()
                .get_asset(&o.asset_name)
                .await
                .map_err(Refusal::internal)?;
            let dir = root.join(&asset.storage.path);
            let settings = LiveSettings {
                event: event.name.clone(),
                archive_secs: o.archive_window_secs(),
                time_shift_secs: o.rewind_window_secs(),
            };
            let opened = open_waiting(&dir, &settings)
                .await
                .map_err(|e| Refusal::live(&event.name, e))?;
            recordings.push(Recording {
                output: o.name,
                asset_dir: dir,
                writer: Arc::new(Mutex::new(opened)),
            });
        }
        let session = Arc::new(Session {
            recordings,
            stopped: AtomicBool::new(false),
            pushing: AtomicUsize::new(0),
            pushes_ended: tokio::sync::Notify::new(),
        });
        sessions.insert(event.name.clone(), Arc::downgrade(&session));
        Ok(session)
    }

    /// The event stopped: its pushing requests end, and every recording
    /// (of an open session, or of its outputs' assets on disk) is marked
    /// ended, so that its manifests turn VOD. Idempotent.
    pub(crate) async fn stop(&self, s: &AppState, event: &str) -> Result<(), crate::ApiError> {
        let session = self
            .sessions
            .lock()
            .await
            .remove(event)
            .and_then(|w| w.upgrade());
        let mut dirs = Vec::new();
        if let Some(session) = &session {
            dirs = session.finish(STOP_DRAIN).await?;
        }
        // Recordings left open by an earlier process.
        let Some(root) = s.media().local_root().map(std::path::Path::to_owned) else {
            return Ok(());
        };
        for o in s.store().live_outputs_of(event).await? {
            let Ok(asset) = s.store().get_asset(&o.asset_name).await else {
                continue;
            };
            let dir = root.join(&asset.storage.path);
            if dirs.contains(&dir) {
                continue;
            }
            tokio::task::spawn_blocking(move || mark_ended(&dir))
                .await
                .map_err(crate::ApiError::internal)?
                .map_err(|e| crate::ApiError::internal(format!("live output {}: {e}", o.name)))?;
        }
        Ok(())
    }
}

impl Session {
    /// Where a new push of `stream` continues the recordings' timeline,
    /// ms ([`LiveAsset::resume_point_ms`], the latest over the outputs);
    /// `None` when nothing of it is recorded yet.
    pub(crate) fn resume_point_ms(&self, stream: &str, now_ms: i64) -> Option<i64> {
        self.recordings
            .iter()
            .filter_map(|r| {
                r.writer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .resume_point_ms(stream, now_ms)
            })
            .max()
    }

    /// A push begins; it counts until the guard is dropped.
    pub(crate) fn push_started(self: &Arc<Self>) -> PushGuard {
        self.pushing.fetch_add(1, Ordering::AcqRel);
        PushGuard(self.clone())
    }

    /// Waits up to `drain` for the pushes under way to end, then ends the
    /// rest and marks every recording ended (VOD); returns their folders.
    async fn finish(&self, drain: Duration) -> Result<Vec<std::path::PathBuf>, crate::ApiError> {
        let deadline = tokio::time::Instant::now() + drain;
        loop {
            let ended = self.pushes_ended.notified();
            if self.pushing.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                break;
            }
        }
        self.stopped.store(true, Ordering::Release);
        let mut dirs = Vec::new();
        for r in &self.recordings {
            let writer = r.writer.clone();
            let output = r.output.clone();
            tokio::task::spawn_blocking(move || {
                writer.lock().unwrap_or_else(|p| p.into_inner()).finish()
            })
            .await
            .map_err(crate::ApiError::internal)?
            .map_err(|e| crate::ApiError::internal(format!("live output {output}: {e}")))?;
            dirs.push(r.asset_dir.clone());
        }
        Ok(dirs)
    }
}

/// Opens a recording, waiting up to [`BUSY_WAIT`] while another process
/// holds it.
async fn open_waiting(
    dir: &std::path::Path,
    settings: &LiveSettings,
) -> Result<LiveAsset, LiveError> {
    let until = Instant::now() + BUSY_WAIT;
    loop {
        let opened = tokio::task::spawn_blocking({
            let (dir, settings) = (dir.to_owned(), settings.clone());
            move || LiveAsset::open(&dir, &settings)
        })
        .await
        .map_err(|e| LiveError::Refused(format!("recording task: {e}")))?;
        match opened {
            Err(LiveError::Busy) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Marks the recording in `dir` ended, if there is one that is not. One
/// that another node is writing is left to it: its requests see the stop
/// in the store within [`STATE_RECHECK`] and mark it.
fn mark_ended(dir: &std::path::Path) -> Result<(), LiveError> {
    let Ok(index) = media::asset::AssetIndex::load(dir) else {
        return Ok(());
    };
    let Some(live) = index.live.as_ref().filter(|l| !l.ended) else {
        return Ok(());
    };
    let settings = LiveSettings {
        event: live.event.clone(),
        archive_secs: live.archive_secs,
        time_shift_secs: live.time_shift_secs,
    };
    match LiveAsset::open(dir, &settings) {
        Err(LiveError::Busy) => {
            tracing::info!(dir = %dir.display(), "live recording held by another process: it marks the end itself");
            Ok(())
        }
        opened => opened?.finish(),
    }
}

/// The stored form of an ingest password: PBKDF2-HMAC-SHA256 with a
/// random salt, `pbkdf2-sha256$rounds$salt$hash` (base64).
pub(crate) fn hash_password(password: &str) -> Result<String, crate::ApiError> {
    use base64::Engine as _;
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| crate::ApiError::internal("no randomness"))?;
    let mut out = [0u8; 32];
    let rounds = std::num::NonZeroU32::new(PASSWORD_ROUNDS).unwrap_or(std::num::NonZeroU32::MIN);
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &mut out,
    );
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!(
        "pbkdf2-sha256${PASSWORD_ROUNDS}${}${}",
        b64.encode(salt),
        b64.encode(out)
    ))
}

/// Whether `password` is the one `stored` ([`hash_password`]) was made
/// from (compared in constant time).
fn password_matches(stored: &str, password: &str) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(rounds), Ok(salt), Ok(hash)) = (
        rounds
            .parse::<u32>()
            .ok()
            .filter(|r| *r <= 10 * PASSWORD_ROUNDS)
            .and_then(std::num::NonZeroU32::new),
        b64.decode(salt),
        b64.decode(hash),
    ) else {
        return false;
    };
    aws_lc_rs::pbkdf2::verify(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// Whether the request's `Authorization: Basic` names `auth`'s user and
/// password (on the blocking pool: PBKDF2 takes a while).
async fn basic_auth_ok(
    auth: &keys::model::LiveEventBasicAuth,
    headers: &axum::http::HeaderMap,
) -> bool {
    use base64::Engine as _;
    let Some(hash) = auth.password_hash.clone() else {
        return false;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let Some((user, password)) = given.as_deref().and_then(|g| g.split_once(':')) else {
        return false;
    };
    if !same_token(user, &auth.username) {
        return false;
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password_matches(&hash, &password))
        .await
        .unwrap_or(false)
}

/// A refused ingest request: status, stable code, message.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "live ingest failed");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub(crate) fn live(event: &str, e: LiveError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        if status.is_server_error() {
            tracing::error!(event, error = %e, "live ingest could not store a fragment");
            return Refusal::new(status, "internal", "internal error");
        }
        tracing::warn!(event, error = %e, "live ingest refused");
        let code = match status.as_u16() {
            415 => "unsupported_media",
            412 => "no_header",
            413 => "fragment_too_large",
            409 => "recording_busy",
            _ => "bad_media",
        };
        Refusal::new(status, code, e.to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response()
    }
}

pub(crate) fn ingest_router() -> Router<AppState> {
    Router::new().route("/ingest/{event}/{token}/{*path}", post(ingest).put(ingest))
}

pub(crate) fn time_router() -> Router<AppState> {
    Router::new().route("/time", get(time))
}

async fn time() -> Response {
    let now = time::OffsetDateTime::now_utc();
    let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let text = media::manifest::utc_datetime(ms);
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        text,
    )
        .into_response()
}

/// Equal in constant time for strings of the same length (the length of
/// a token is not a secret: it is the same for every generated one).
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn ingest(
    State(s): State<AppState>,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Response {
    match ingest_inner(s, path, &headers, body).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(r) if r.status == StatusCode::UNAUTHORIZED => {
            let mut response = r.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(
                    "Basic realm=\"castguard ingest\", charset=\"UTF-8\"",
                ),
            );
            response
        }
        Err(r) => r.into_response(),
    }
}

async fn ingest_inner(
    s: AppState,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<(), Refusal> {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "not_found", "no such live event");
    let Ok(Path((event, token, rest))) = path else {
        return Err(not_found());
    };
    let stream = rest.split('/').next().unwrap_or_default().to_owned();
    if stream.is_empty() || stream.len() > 128 || !stream.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_stream",
            "the path must name a stream after the token",
        ));
    }
    let ev = authorize(&s, &event, &token, LiveEventInputProtocol::FragmentedMp4).await?;
    if let Some(auth) = &ev.input.basic_auth
        && !basic_auth_ok(auth, headers).await
    {
        tracing::warn!(event = %ev.name, "live ingest without the event's basic auth refused");
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this live event's ingest needs HTTP Basic credentials",
        ));
    }
    let live = &s.inner.live;
    let session = live.session(&s, &ev).await?;
    let _pushing = session.push_started();
    let has_header = session.recordings.first().is_some_and(|r| {
        r.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .has_header(&stream)
    });
    let mut parser = StreamParser::new(live.max_fragment.load(Ordering::Relaxed), has_header);
    let mut body = body.into_data_stream();
    let mut checked = Instant::now();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(event = %ev.name, stream, error = %e, "live ingest request body failed");
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "body_failed",
                    "the request body failed",
                ));
            }
        };
        let units = parser
            .push(&chunk)
            .map_err(|e| Refusal::live(&ev.name, e))?;
        if !units.is_empty() && checked.elapsed() >= STATE_RECHECK {
            checked = Instant::now();
            if !still_running(&s, &ev.name).await? {
                // Stopped elsewhere (another node's API): this node holds
                // the recordings, so it marks them ended.
                session
                    .finish(Duration::ZERO)
                    .await
                    .map_err(|e| Refusal::internal(format!("live event {}: {e:?}", ev.name)))?;
                return Err(Refusal::new(
                    StatusCode::NOT_FOUND,
                    "not_running",
                    "the live event stopped",
                ));
            }
        }
        for unit in units {
            store_unit(&ev.name, &session, &stream, unit).await?;
        }
    }
    parser.finish().map_err(|e| Refusal::live(&ev.name, e))
}

/// The running event `event` when `token` is its access token and it takes
/// `protocol`: else 404 (no such event, not running, another protocol) or
/// 403 (wrong token; the log names the event, never the token).
pub(crate) async fn authorize(
    s: &AppState,
    event: &str,
    token: &str,
    protocol: LiveEventInputProtocol,
) -> Result<LiveEvent, Refusal> {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "not_found", "no such live event");
    let ev = match s.store().get_live_event(event).await {
        Ok(ev) => ev,
        Err(store::StoreError::NotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(Refusal::internal(e)),
    };
    if !ev
        .input
        .access_token
        .as_deref()
        .is_some_and(|t| same_token(t, token))
    {
        tracing::warn!(event = %ev.name, "live ingest with a wrong access token refused");
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "wrong access token",
        ));
    }
    if ev.input.streaming_protocol != protocol {
        tracing::warn!(event = %ev.name, protocol = ?protocol, "live ingest over a protocol the event does not take refused");
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "wrong_protocol",
            "the live event takes another ingest protocol",
        ));
    }
    if ev.resource_state != LiveEventResourceState::Running {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_running",
            "the live event is not running",
        ));
    }
    Ok(ev)
}

/// Whether the event is still running by the store (another node may have
/// stopped it).
async fn still_running(s: &AppState, event: &str) -> Result<bool, Refusal> {
    match s.store().get_live_event(event).await {
        Ok(ev) => Ok(ev.resource_state == LiveEventResourceState::Running),
        Err(store::StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(Refusal::internal(e)),
    }
}

/// Writes one unit into every recording of the session, on the blocking
/// pool (file writes and `fsync`); refused once the event stopped.
pub(crate) async fn store_unit(
    event: &str,
    session: &Arc<Session>,
    stream: &str,
    unit: Unit,
) -> Result<(), Refusal> {
    if session.stopped.load(Ordering::Acquire) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_running",
            "the live event stopped",
        ));
    }
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(0);
    let writers: Vec<Arc<Mutex<LiveAsset>>> = session
        .recordings
        .iter()
        .map(|r| r.writer.clone())
        .collect();
    let stream = stream.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(), LiveError> {
        for writer in writers {
            let mut w = writer.lock().unwrap_or_else(|p| p.into_inner());
            match &unit {
                Unit::Header(h) => w.header(&stream, h)?,
                Unit::Fragment { bytes, moof_len } => {
                    w.fragment(&stream, bytes, *moof_len, now_ms)?;
                }
            }
        }
        Ok(())
    })
    .await
    .map_err(Refusal::internal)?
    .map_err(|e| Refusal::live(event, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_passwords_are_salted_hashes() {
        let password = "live-unit-ingest-pw-81c2";
        let stored = hash_password(password).unwrap();
        assert!(stored.starts_with("pbkdf2-sha256$100000$") && !stored.contains(password));
        assert!(password_matches(&stored, password));
        assert!(!password_matches(&stored, "live-unit-ingest-pw-81c3"));
        assert_ne!(stored, hash_password(password).unwrap(), "salted");
        assert!(!password_matches("garbage", password));
        assert!(
            !password_matches("pbkdf2-sha256$999999999$AAAA$AAAA", password),
            "rounds are capped"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_token("abcdefghijklmnop", "abcdefghijklmnoq"));
        assert!(!same_token("abcdefghijklmnop", "abcdefghijklmno"));
        assert!(!same_token("", "a"));
    }
}
