//! `/api/v1/live-outputs`: a live event recorded into an asset (v3
//! `LiveOutput`, here a top-level collection naming its event in
//! `liveEventName`). The event and the asset must exist; an asset recorded
//! into cannot be deleted while the output exists. Changing or deleting an
//! output of a running event is refused (409): stop the event first, so a
//! recording never loses its writer halfway.

use super::entity::{self, ApiEntity};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonObject;
use axum::http::StatusCode;
use keys::model::{LiveEventResourceState, LiveOutput};

entity_api! {
    entity: LiveOutput,
    collection: "live-outputs",
    operations: "listLiveOutputs", "getLiveOutput", "putLiveOutput", "deleteLiveOutput",
    schemas: LiveOutputList, LiveOutput, LiveOutputInput,
    list: "One page of live outputs",
    get: "The live output",
    put_404: "The live event or asset it names does not exist",
    delete: "Deleted (its asset stays)",
    delete_409: "Its live event is running",
}

/// A conflict while `event` is running.
async fn refuse_while_running(s: &AppState, event: &str) -> ApiResult<()> {
    match s.store().get_live_event(event).await {
        Ok(e) if e.resource_state != LiveEventResourceState::Stopped => Err(ApiError::Conflict {
            message: format!("live event '{event}' is running: stop it first"),
        }),
        _ => Ok(()),
    }
}

impl ApiEntity for LiveOutput {
    async fn from_put(s: &AppState, name: String, body: JsonObject) -> ApiResult<Self> {
        let output: LiveOutput = entity::parse_valid(&name, body)?;
        refuse_while_running(s, &output.live_event_name).await?;
        if let Ok(old) = s.store().get_live_output(&name).await {
            refuse_while_running(s, &old.live_event_name).await?;
        }
        Ok(output)
    }

    async fn handle_delete(s: &AppState, name: String) -> ApiResult<StatusCode> {
        if let Ok(old) = s.store().get_live_output(&name).await {
            refuse_while_running(s, &old.live_event_name).await?;
        }
        entity::delete::<LiveOutput>(s, &name).await
    }
}
