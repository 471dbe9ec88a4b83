//! `/api/v1/live-events`: where encoders push (v3 `LiveEvent`), and its two
//! v3 actions, `start` and `stop`.
//!
//! A PUT keeps what the server owns: `resourceState` (changed only by
//! start and stop) and, when the body leaves it out, the stored access
//! token; a new event without one gets 128 random bits, hex. Responses
//! carry `input.endpoints`: for `FragmentedMP4` the CMAF ingest URL under
//! this server's public base, for `RTMP` the encoder's server URL
//! (`rtmp://HOST:PORT/live/{event}`) and, as a second endpoint, the whole
//! URL with the access token as stream key. `streamingProtocol: RTMP` is
//! refused (400) when the server runs without `--rtmp-listen`.
//!
//! Start, stop and delete are idempotent: starting a running event or
//! stopping a stopped one answers the event as it is, and deleting one that
//! is gone answers 204. Stopping ends the requests still pushing and marks
//! every output's recording ended, so its manifests turn VOD; deleting
//! stops the event and deletes its outputs first (their assets stay).

use super::entity::{self, ApiEntity};
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityName, JsonObject};
use crate::openapi::schemas;
use crate::{AppState, auth::Admin};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use keys::model::{
    LiveEvent, LiveEventEndpoint, LiveEventInputProtocol, LiveEventResourceState, Validate,
};
use store::StoreError;

entity_api! {
    entity: LiveEvent,
    collection: "live-events",
    operations: "listLiveEvents", "getLiveEvent", "putLiveEvent", "deleteLiveEvent",
    schemas: LiveEventList, LiveEvent, LiveEventInput,
    list: "One page of live events",
    get: "The live event",
    delete: "Stopped and deleted with its outputs (their assets stay), or already gone",
}

/// 128 random bits as 32 hex digits.
fn new_access_token() -> ApiResult<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| ApiError::internal("no randomness"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl ApiEntity for LiveEvent {
    const NOT_KEPT: &'static [(&'static str, &'static str)] = &[
        ("created", entity::SET_BY_CASTGUARD),
        ("lastModified", entity::SET_BY_CASTGUARD),
        (
            "input.basicAuth.password",
            "write-only: kept as a salted hash, never shown",
        ),
    ];

    async fn from_put(s: &AppState, name: String, body: JsonObject) -> ApiResult<Self> {
        let mut event: LiveEvent = body.with_name(&name)?.parse()?;
        // The stored hash is the server's alone: a client that sends one
        // (copied from a backup, or guessing the storage form) is told so
        // rather than having it silently replaced.
        if event
            .input
            .basic_auth
            .as_ref()
            .is_some_and(|a| a.password_hash.is_some())
        {
            return Err(ApiError::bad_request(
                "input.basicAuth.passwordHash",
                "set by castguard from input.basicAuth.password; send the password instead",
            ));
        }
        if event.input.streaming_protocol == LiveEventInputProtocol::Rtmp && s.rtmp_base().is_none()
        {
            return Err(ApiError::bad_request(
                "input.streamingProtocol",
                "RTMP ingest is off on this server (serve --rtmp-listen); use FragmentedMP4 (CMAF over HTTP)",
            ));
        }
        let old = match s.store().get_live_event(&name).await {
            Ok(old) => Some(old),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if event.input.access_token.is_none() {
            event.input.access_token = old.as_ref().and_then(|o| o.input.access_token.clone());
        }
        if event.input.access_token.is_none() {
            event.input.access_token = Some(new_access_token()?);
        }
        event.validate()?;
        // Basic auth (validated above): a new password is hashed; without
        // one, the stored hash stays (a PUT of what GET showed keeps the
        // credentials).
        if let Some(auth) = &mut event.input.basic_auth {
            auth.password_hash = match auth.password.take() {
                Some(password) => Some(crate::live::hash_password(&password)?),
                None => old
                    .as_ref()
                    .and_then(|o| o.input.basic_auth.as_ref())
                    .and_then(|a| a.password_hash.clone()),
            };
        }
        Ok(event)
    }

    fn public(mut self, s: &AppState) -> Self {
        if let Some(auth) = &mut self.input.basic_auth {
            auth.password = None;
            auth.password_hash = None;
        }
        let base = &s.delivery().config().public_base_url;
        let Some(token) = &self.input.access_token else {
            return self;
        };
        self.input.endpoints = match self.input.streaming_protocol {
            LiveEventInputProtocol::FragmentedMp4 => vec![LiveEventEndpoint {
                protocol: "FragmentedMP4".into(),
                url: format!("{base}/ingest/{}/{token}", self.name),
            }],
            // OBS's "Server" and the whole URL ffmpeg takes (its stream
            // key after the last slash).
            LiveEventInputProtocol::Rtmp => match s.rtmp_base() {
                Some(rtmp) => vec![
                    LiveEventEndpoint {
                        protocol: "RTMP".into(),
                        url: format!("{rtmp}/{}", self.name),
                    },
                    LiveEventEndpoint {
                        protocol: "RTMP".into(),
                        url: format!("{rtmp}/{}/{token}", self.name),
                    },
                ],
                None => Vec::new(),
            },
        };
        self
    }

    async fn handle_delete(s: &AppState, name: String) -> ApiResult<StatusCode> {
        match s.store().get_live_event(&name).await {
            Err(StoreError::NotFound { .. }) => return Ok(StatusCode::NO_CONTENT),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        stop_event(s, &name).await?;
        for o in s.store().live_outputs_of(&name).await? {
            s.store().delete_live_output(&o.name).await?;
        }
        entity::delete::<LiveEvent>(s, &name).await?;
        Ok(StatusCode::NO_CONTENT)
    }
}

async fn stop_event(s: &AppState, name: &str) -> ApiResult<LiveEvent> {
    s.inner.live.stop(s, name).await?;
    Ok(s.store()
        .set_live_event_state(name, LiveEventResourceState::Stopped)
        .await?)
}

#[utoipa::path(post, path = "/api/v1/live-events/{name}/start", tag = "live-events", operation_id = "startLiveEvent",
    params(schemas::Name),
    responses((status = 200, description = "Running: its ingest endpoints take streams", body = schemas::LiveEvent),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn start(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<LiveEvent>> {
    let event = s
        .store()
        .set_live_event_state(&name, LiveEventResourceState::Running)
        .await?;
    Ok(Json(event.public(&s)))
}

#[utoipa::path(post, path = "/api/v1/live-events/{name}/stop", tag = "live-events", operation_id = "stopLiveEvent",
    params(schemas::Name),
    responses((status = 200, description = "Stopped: its recordings are VOD assets", body = schemas::LiveEvent),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn stop(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<LiveEvent>> {
    s.store().get_live_event(&name).await?;
    Ok(Json(stop_event(&s, &name).await?.public(&s)))
}
