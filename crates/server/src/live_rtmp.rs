//! Live ingest over RTMP, what OBS and most hardware encoders push: a
//! listener of its own (`castguard serve --rtmp-listen ADDR`), beside the
//! HTTP ingest and apart from the origin. Each push is remuxed into CMAF
//! ([`media::flv::FlvRemuxer`]) and stored by the HTTP ingest's own code
//! ([`crate::live::authorize`], [`crate::live::store_unit`]), so the
//! recording, its live manifests, encryption and the archive as VOD are
//! exactly those of a CMAF push.
//!
//! URLs, the OBS way: Server `rtmp://HOST:PORT/live/{event}` (the RTMP
//! "app" `live/{event}`), Stream Key `{accessToken}`, or
//! `{accessToken}/{stream}` to push several streams (renditions) into one
//! event; the stream is named `rtmp` when the key has no second part.
//! ffmpeg takes the whole URL, `rtmp://HOST:PORT/live/{event}/{accessToken}`
//! (it splits the last part off as the stream key). A publish is refused
//! (`NetStream.Publish.BadName`, then the connection closes) for an
//! unknown event, a wrong access token (compared in constant time; nothing
//! is stored, the log names the event and never the key), an event that is
//! not running or takes `FragmentedMP4` instead, and a stream another
//! connection is already publishing.
//!
//! Protocol crate: `rml_rtmp` 0.8. Its handshake and `ServerSession` are
//! state machines over bytes with no I/O of their own, so they run in this
//! module's tokio tasks, under our timeouts and limits, and give us each
//! audio and video message with its timestamp. xiu's `rtmp` (0.6, more
//! active) was read first: its `ServerSession` owns the `TcpStream` and
//! publishes into xiu's own `streamhub` (frames would have to be
//! subscribed back out of it), and it pulls `streamhub`, `xflv`,
//! `h264-decoder`, `chrono` and the deprecated `failure`; rml_rtmp adds
//! `rml_amf0`, `hmac`, `sha2` 0.9 and `rand` 0.8. rml_rtmp has had no
//! release since 2023, which is why it sits behind this one module.
//!
//! Bounds: the handshake must finish within [`HANDSHAKE_TIMEOUT`], a
//! connection that sends nothing for [`IDLE_TIMEOUT`] is closed, at most
//! [`MAX_CONNECTIONS`] are served at once, an RTMP message is at most
//! 16 MiB by its 24-bit length field, and what the remuxer buffers for one
//! fragment is refused past the ingest fragment limit (64 MiB by default).
//! Anything refused (garbage instead of RTMP, FLV the remuxer does not
//! take, decode times going back) closes the connection with a log line
//! naming the event when it is known; what was stored keeps being served.
//! When a publisher goes away (`deleteStream`, or the connection closing)
//! the frames it sent since the last key frame are stored as a last,
//! shorter fragment. A publisher that comes back to a stream already
//! recorded (an encoder reconnecting, timestamps from 0 again) continues
//! the recording after a gap as long as it was away
//! ([`FlvRemuxer::continue_at`]).

use crate::AppState;
use crate::live::{Refusal, Session, authorize, store_unit};
use keys::model::LiveEventInputProtocol;
use media::flv::FlvRemuxer;
use media::live::Unit;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The RTMP application every event lives under.
pub const APP: &str = "live";
/// Time allowed for the RTMP handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection silent this long is closed (encoders send frames many
/// times a second, and pings besides).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 256;
/// Stream name when the stream key has no `/{stream}` part.
pub const DEFAULT_STREAM: &str = "rtmp";

/// Why an RTMP connection closed early. Never holds the stream key.
#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("no RTMP handshake within {} s", HANDSHAKE_TIMEOUT.as_secs())]
    HandshakeTimeout,
    #[error("nothing received for {} s", IDLE_TIMEOUT.as_secs())]
    Idle,
    #[error("not RTMP: {0}")]
    Handshake(String),
    #[error("RTMP: {0}")]
    Protocol(String),
    #[error("refused: {0}")]
    Refused(String),
}

impl From<Refusal> for RtmpError {
    fn from(r: Refusal) -> Self {
        RtmpError::Refused(format!("{} ({})", r.message, r.code))
    }
}

fn protocol(e: impl std::fmt::Display) -> RtmpError {
    RtmpError::Protocol(e.to_string())
}

/// `rtmp://HOST:PORT/live` for a listener on `addr` whose clients reach
/// this server at `public_url` (the host of the HTTP public URL, the RTMP
/// listener's port).
pub fn public_base(public_url: &str, addr: SocketAddr) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if authority.starts_with('[') {
        authority
            .split_once(']')
            .map_or(authority.to_owned(), |(h, _)| format!("{h}]"))
    } else {
        authority.split(':').next().unwrap_or(authority).to_owned()
    };
    format!("rtmp://{host}:{}/{APP}", addr.port())
}

/// Accepts RTMP connections on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => return,
        };
        let (sock, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "RTMP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "RTMP connection refused: {MAX_CONNECTIONS} already open");
            continue;
        };
        let _ = sock.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let _permit = permit;
            connection(state, sock, peer).await;
        });
    }
}

/// One publish in progress.
struct Publish {
    event: String,
    stream: String,
    session: Arc<Session>,
    remuxer: FlvRemuxer,
    _claim: Claim,
    /// Counts until the publish's last frames are stored.
    _pushing: crate::live::PushGuard,
}

/// The (event, stream) an RTMP connection publishes, released on drop.
struct Claim {
    state: AppState,
    key: (String, String),
}

impl Claim {
    fn take(state: &AppState, event: &str, stream: &str) -> Option<Claim> {
        let key = (event.to_owned(), stream.to_owned());
        let fresh = state
            .inner
            .live
            .rtmp_publishing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone());
        fresh.then(|| Claim {
            state: state.clone(),
            key,
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.state
            .inner
            .live
            .rtmp_publishing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

struct Connection {
    state: AppState,
    peer: SocketAddr,
    /// The event the client connected to (`live/{event}`).
    event: Option<String>,
    publish: Option<Publish>,
}

async fn connection(state: AppState, mut sock: TcpStream, peer: SocketAddr) {
    let mut conn = Connection {
        state,
        peer,
        event: None,
        publish: None,
    };
    let result = conn.run(&mut sock).await;
    // Frames since the last key frame: stored unless the push was refused.
    let flushed = match (&result, conn.publish.take()) {
        (Err(RtmpError::Refused(_)), _) | (_, None) => Ok(()),
        (_, Some(p)) => end_publish(p).await,
    };
    let event = conn.event.as_deref().unwrap_or("-");
    match result.and(flushed) {
        Ok(()) => tracing::info!(event = %event, %peer, "RTMP connection closed"),
        Err(e) => tracing::warn!(event = %event, %peer, error = %e, "RTMP connection closed"),
    }
}

/// Stores what the remuxer still holds.
async fn end_publish(mut p: Publish) -> Result<(), RtmpError> {
    let units = p.remuxer.finish().map_err(|e| Refusal::live(&p.event, e))?;
    for unit in units {
        store_unit(&p.event, &p.session, &p.stream, unit).await?;
    }
    tracing::info!(event = %p.event, stream = %p.stream, "RTMP publish ended");
    Ok(())
}

impl Connection {
    async fn run(&mut self, sock: &mut TcpStream) -> Result<(), RtmpError> {
        let mut buf = vec![0u8; 64 * 1024];
        let rest = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(sock, &mut buf))
            .await
            .map_err(|_| RtmpError::HandshakeTimeout)??;
        let (mut session, start) =
            ServerSession::new(ServerSessionConfig::new()).map_err(protocol)?;
        self.answer(sock, &mut session, start).await?;
        let results = session.handle_input(&rest).map_err(protocol)?;
        self.answer(sock, &mut session, results).await?;
        loop {
            let n = tokio::time::timeout(IDLE_TIMEOUT, sock.read(&mut buf))
                .await
                .map_err(|_| RtmpError::Idle)??;
            if n == 0 {
                return Ok(());
            }
            let results = session.handle_input(&buf[..n]).map_err(protocol)?;
            self.answer(sock, &mut session, results).await?;
        }
    }

    /// Sends the session's packets and acts on its events, in order.
    async fn answer(
        &mut self,
        sock: &mut TcpStream,
        session: &mut ServerSession,
        results: Vec<ServerSessionResult>,
    ) -> Result<(), RtmpError> {
        let mut queue: std::collections::VecDeque<ServerSessionResult> = results.into();
        while let Some(result) = queue.pop_front() {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    sock.write_all(&packet.bytes).await?
                }
                ServerSessionResult::RaisedEvent(event) => {
                    let more = self.on_event(sock, session, event).await?;
                    // Answers to this event go before anything after it.
                    for r in more.into_iter().rev() {
                        queue.push_front(r);
                    }
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    async fn on_event(
        &mut self,
        sock: &mut TcpStream,
        session: &mut ServerSession,
        event: ServerSessionEvent,
    ) -> Result<Vec<ServerSessionResult>, RtmpError> {
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                let Some(name) = event_of_app(&app_name) else {
                    let r = session
                        .reject_request(
                            request_id,
                            "NetConnection.Connect.Rejected",
                            "the app must be live/{event}",
                        )
                        .map_err(protocol)?;
                    send(sock, r).await?;
                    return Err(RtmpError::Refused(format!(
                        "app '{}' is not {APP}/{{event}}",
                        printable(&app_name)
                    )));
                };
                self.event = Some(name);
                session.accept_request(request_id).map_err(protocol)
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => match self.publish_requested(&stream_key).await {
                Ok(p) => {
                    tracing::info!(event = %p.event, stream = %p.stream, peer = %self.peer, "RTMP publish started");
                    self.publish = Some(p);
                    session.accept_request(request_id).map_err(protocol)
                }
                Err(e) => {
                    let r = session
                        .reject_request(request_id, "NetStream.Publish.BadName", "publish refused")
                        .map_err(protocol)?;
                    send(sock, r).await?;
                    Err(e)
                }
            },
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => {
                self.media(|r| r.video(timestamp.value, &data)).await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => {
                self.media(|r| r.audio(timestamp.value, &data)).await?;
                Ok(Vec::new())
            }
            ServerSessionEvent::PublishStreamFinished { .. } => {
                if let Some(p) = self.publish.take() {
                    end_publish(p).await?;
                }
                Ok(Vec::new())
            }
            ServerSessionEvent::PlayStreamRequested { request_id, .. } => {
                let r = session
                    .reject_request(
                        request_id,
                        "NetStream.Play.Failed",
                        "this server takes pushes only",
                    )
                    .map_err(protocol)?;
                send(sock, r).await?;
                Err(RtmpError::Refused(
                    "a play request (this server takes pushes only)".into(),
                ))
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn publish_requested(&mut self, stream_key: &str) -> Result<Publish, RtmpError> {
        if self.publish.is_some() {
            return Err(RtmpError::Refused(
                "a second publish on one connection".into(),
            ));
        }
        let event = self
            .event
            .clone()
            .ok_or_else(|| RtmpError::Protocol("publish before connect".into()))?;
        // OBS and ffmpeg may append a query string to the key.
        let key = stream_key.split('?').next().unwrap_or_default();
        let (token, stream) = key.split_once('/').unwrap_or((key, DEFAULT_STREAM));
        if stream.is_empty() || stream.len() > 128 || !stream.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(RtmpError::Refused(
                "the stream name after the access token is empty, too long or not printable".into(),
            ));
        }
        let ev = authorize(&self.state, &event, token, LiveEventInputProtocol::Rtmp).await?;
        let claim = Claim::take(&self.state, &ev.name, stream).ok_or_else(|| {
            RtmpError::Refused(format!("stream {stream} is already being published"))
        })?;
        let live = &self.state.inner.live;
        let session = live.session(&self.state, &ev).await?;
        let mut remuxer = FlvRemuxer::new(live.max_fragment.load(Ordering::Relaxed));
        // A reconnect (OBS starts at 0 again) continues the recording.
        let now_ms =
            i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(0);
        if let Some(at) = session.resume_point_ms(stream, now_ms) {
            tracing::info!(event = %ev.name, stream, resume_ms = at, "RTMP publish continues a recording");
            remuxer.continue_at(at);
        }
        Ok(Publish {
            event: ev.name,
            stream: stream.to_owned(),
            _pushing: session.push_started(),
            session,
            remuxer,
            _claim: claim,
        })
    }

    /// Feeds one audio or video message to the remuxer and stores the
    /// units it completes.
    async fn media(
        &mut self,
        feed: impl FnOnce(&mut FlvRemuxer) -> Result<Vec<Unit>, media::live::LiveError>,
    ) -> Result<(), RtmpError> {
        let Some(p) = self.publish.as_mut() else {
            return Err(RtmpError::Protocol(
                "media before an accepted publish".into(),
            ));
        };
        let units = feed(&mut p.remuxer).map_err(|e| Refusal::live(&p.event, e))?;
        for unit in units {
            store_unit(&p.event, &p.session, &p.stream, unit).await?;
        }
        Ok(())
    }
}

async fn send(sock: &mut TcpStream, results: Vec<ServerSessionResult>) -> Result<(), RtmpError> {
    for r in results {
        if let ServerSessionResult::OutboundResponse(packet) = r {
            sock.write_all(&packet.bytes).await?;
        }
    }
    Ok(())
}

/// The handshake (C0/C1/C2 against S0/S1/S2); returns the bytes that
/// came after it.
async fn handshake(sock: &mut TcpStream, buf: &mut [u8]) -> Result<Vec<u8>, RtmpError> {
    let mut hs = Handshake::new(PeerType::Server);
    loop {
        let n = sock.read(buf).await?;
        if n == 0 {
            return Err(RtmpError::Handshake(
                "the connection closed during the handshake".into(),
            ));
        }
        match hs
            .process_bytes(&buf[..n])
            .map_err(|e| RtmpError::Handshake(e.to_string()))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                sock.write_all(&response_bytes).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                sock.write_all(&response_bytes).await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

/// `{event}` of the app `live/{event}` (a trailing query string dropped).
fn event_of_app(app: &str) -> Option<String> {
    let app = app.split('?').next().unwrap_or_default();
    let name = app.strip_prefix(APP)?.strip_prefix('/')?;
    let name = name.trim_end_matches('/');
    let ok = !name.is_empty()
        && name.len() <= 260
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    ok.then(|| name.to_owned())
}

/// Up to 64 printable characters of a client's string, for a log line.
fn printable(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_name_events() {
        assert_eq!(event_of_app("live/stage").as_deref(), Some("stage"));
        assert_eq!(event_of_app("live/stage/").as_deref(), Some("stage"));
        assert_eq!(event_of_app("live/stage?x=1").as_deref(), Some("stage"));
        assert_eq!(event_of_app("live"), None);
        assert_eq!(event_of_app("live/"), None);
        assert_eq!(event_of_app("vod/stage"), None);
        assert_eq!(event_of_app("live/a/b"), None);
        assert_eq!(event_of_app("livestage"), None);
    }

    #[test]
    fn public_base_takes_the_host_of_the_public_url() {
        let addr: SocketAddr = "0.0.0.0:1935".parse().unwrap();
        assert_eq!(
            public_base("http://127.0.0.1:8080", addr),
            "rtmp://127.0.0.1:1935/live"
        );
        assert_eq!(
            public_base("https://media.example.com/base", addr),
            "rtmp://media.example.com:1935/live"
        );
        assert_eq!(
            public_base("http://[::1]:8080", addr),
            "rtmp://[::1]:1935/live"
        );
    }
}
