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
use keys::model::{LiveEvent, LiveEventResourceState};
use media::live::{LiveAsset, LiveError, LiveSettings, StreamParser, Unit};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The open recordings of running events.
#[derive(Default)]
pub(crate) struct Registry {
    sessions: tokio::sync::Mutex<HashMap<String, Arc<Session>>>,
    /// Largest fragment or header accepted, bytes.
    pub(crate) max_fragment: std::sync::atomic::AtomicU64,
}

/// The recordings of one running event.
struct Session {
    recordings: Vec<Recording>,
    stopped: AtomicBool,
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
    async fn session(&self, s: &AppState, event: &LiveEvent) -> Result<Arc<Session>, Refusal> {
        let mut sessions = self.sessions.lock().await;
        if let Some(session) = sessions.get(&event.name) {
            return Ok(session.clone());
        }
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
            let opened = tokio::task::spawn_blocking({
                let dir = dir.clone();
                move || LiveAsset::open(&dir, &settings)
            })
            .await
            .map_err(Refusal::internal)?
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
        });
        sessions.insert(event.name.clone(), session.clone());
        Ok(session)
    }

    /// The event stopped: its pushing requests end, and every recording
    /// (of an open session, or of its outputs' assets on disk) is marked
    /// ended, so that its manifests turn VOD. Idempotent.
    pub(crate) async fn stop(&self, s: &AppState, event: &str) -> Result<(), crate::ApiError> {
        let session = self.sessions.lock().await.remove(event);
        let mut dirs = Vec::new();
        if let Some(session) = &session {
            session.stopped.store(true, Ordering::Release);
            for r in &session.recordings {
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

/// Marks the recording in `dir` ended, if there is one that is not.
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
    LiveAsset::open(dir, &settings)?.finish()
}

/// A refused ingest request: status, stable code, message.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "live ingest failed");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    fn live(event: &str, e: LiveError) -> Self {
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
    body: Body,
) -> Response {
    match ingest_inner(s, path, body).await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn ingest_inner(
    s: AppState,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
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
    let ev = match s.store().get_live_event(&event).await {
        Ok(ev) => ev,
        Err(store::StoreError::NotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(Refusal::internal(e)),
    };
    if !ev
        .input
        .access_token
        .as_deref()
        .is_some_and(|t| same_token(t, &token))
    {
        tracing::warn!(event = %ev.name, "live ingest with a wrong access token refused");
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "wrong access token",
        ));
    }
    if ev.resource_state != LiveEventResourceState::Running {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_running",
            "the live event is not running",
        ));
    }
    let live = &s.inner.live;
    let session = live.session(&s, &ev).await?;
    let has_header = session.recordings.first().is_some_and(|r| {
        r.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .has_header(&stream)
    });
    let mut parser = StreamParser::new(live.max_fragment.load(Ordering::Relaxed), has_header);
    let mut body = body.into_data_stream();
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
        for unit in units {
            if session.stopped.load(Ordering::Acquire) {
                return Err(Refusal::new(
                    StatusCode::NOT_FOUND,
                    "not_running",
                    "the live event stopped",
                ));
            }
            store_unit(&ev.name, &session, &stream, unit).await?;
        }
    }
    parser.finish().map_err(|e| Refusal::live(&ev.name, e))
}

/// Writes one unit into every recording of the session, on the blocking
/// pool (file writes and `fsync`).
async fn store_unit(
    event: &str,
    session: &Arc<Session>,
    stream: &str,
    unit: Unit,
) -> Result<(), Refusal> {
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
    fn tokens_compare_whole() {
        assert!(same_token("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_token("abcdefghijklmnop", "abcdefghijklmnoq"));
        assert!(!same_token("abcdefghijklmnop", "abcdefghijklmno"));
        assert!(!same_token("", "a"));
    }
}
