//! `/api/v1/assets`: the clear media of a title, and its upload.
//!
//! `PUT /assets/{name}` creates or replaces the record (description,
//! alternate id); where the media lives (`storage`) is read-only and set by
//! the server. `PUT /assets/{name}/content` takes an MP4 as the raw request
//! body and ingests it (issue 3, item 3):
//! 1. the body is streamed to a temporary file under `DATA_DIR/tmp/`, chunk
//!    by chunk, never held whole in memory, refused past
//!    [`crate::UPLOAD_BODY_LIMIT`] (413);
//! 2. `media::asset::ingest` writes clear CMAF per track plus `index.json`
//!    into a fresh local staging folder (on a blocking thread: it is file
//!    and CPU work); bad media is a 400 carrying the packager's error and
//!    leaves nothing;
//! 3. [`store::MediaStore::publish`] makes it the asset's media (a folder
//!    rename into `DATA_DIR/assets/<name>/`, or an upload to object storage
//!    with `index.json` last), and the asset record gets the storage path
//!    and track summary. Publishing is serialised by a lock, so two uploads
//!    of one asset cannot interleave; when the record cannot be written the
//!    publish is rolled back.
//!
//! `DELETE` removes the record, then the media (every object of the asset
//! on object storage).

use super::{ListPage, delete_status, put_status};
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityName, JsonObject, Paging};
use crate::openapi::schemas;
use crate::{AppState, UPLOAD_BODY_LIMIT, auth::Admin};
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt as _;
use keys::model::{Asset, AssetStorage, Validate};
use serde::Deserialize;
use std::path::Path;
use store::StoreError;
use tokio::io::AsyncWriteExt as _;

/// Folder of ingested assets inside the data directory.
pub const ASSETS_DIR: &str = store::media::ASSETS_DIR;
/// Folder of uploads in progress inside the data directory.
const TMP_DIR: &str = "tmp";
/// Target segment duration of ingested CMAF, seconds.
const SEGMENT_DURATION_SECS: f64 = 4.0;

/// Uploads stream their body and count it themselves; the JSON limit does
/// not apply to them.
pub(crate) fn upload_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::disable()
}

/// The writable fields of an asset; server-assigned ones in the body
/// (`assetId`, `created`, `storage`, ...) are ignored, so a GET response can
/// be PUT back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssetInput {
    #[serde(default)]
    alternate_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/assets", tag = "assets", operation_id = "listAssets",
    params(schemas::Top, schemas::SkipToken),
    responses((status = 200, description = "One page of assets", body = schemas::AssetList),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error)))]
pub async fn list(
    _: Admin,
    State(s): State<AppState>,
    paging: Paging,
) -> ApiResult<Json<ListPage<Asset>>> {
    let page = s.store().list_assets(&paging.page()).await?;
    Ok(Json(ListPage::new("assets", &paging, page)))
}

#[utoipa::path(get, path = "/api/v1/assets/{name}", tag = "assets", operation_id = "getAsset",
    params(schemas::Name),
    responses((status = 200, description = "The asset", body = schemas::Asset),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error)))]
pub async fn get(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<Json<Asset>> {
    Ok(Json(s.store().get_asset(&name).await?))
}

#[utoipa::path(put, path = "/api/v1/assets/{name}", tag = "assets", operation_id = "putAsset",
    params(schemas::Name), request_body = schemas::AssetInput,
    responses((status = 200, description = "Replaced", body = schemas::Asset),
        (status = 201, description = "Created", body = schemas::Asset),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 409, body = schemas::Error), (status = 413, body = schemas::Error)))]
pub async fn put(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    body: JsonObject,
) -> ApiResult<(StatusCode, Json<Asset>)> {
    let input: AssetInput = body.with_name(&name)?.parse()?;
    let storage = match s.store().get_asset(&name).await {
        Ok(existing) => existing.storage,
        Err(StoreError::NotFound { .. }) => AssetStorage {
            path: format!("{ASSETS_DIR}/{name}"),
            tracks: serde_json::Value::Null,
        },
        Err(e) => return Err(e.into()),
    };
    let asset = Asset {
        name,
        asset_id: None,
        created: None,
        last_modified: None,
        alternate_id: input.alternate_id,
        description: input.description,
        storage,
    };
    asset.validate()?;
    let put = s.store().put_asset(asset).await?;
    Ok((put_status(put.created), Json(put.value)))
}

#[utoipa::path(delete, path = "/api/v1/assets/{name}", tag = "assets", operation_id = "deleteAsset",
    params(schemas::Name),
    responses((status = 204, description = "Deleted, with its media"), (status = 400, body = schemas::Error),
        (status = 401, body = schemas::Error), (status = 404, body = schemas::Error),
        (status = 409, description = "A streaming locator uses the asset", body = schemas::Error)))]
pub async fn delete(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
) -> ApiResult<StatusCode> {
    let _swap = s.inner.ingest_lock.lock().await;
    let status = delete_status(s.store().delete_asset(&name).await?, "asset", &name)?;
    if let Err(e) = s.media().remove(&name).await {
        tracing::warn!(asset = %name, store = %s.media().describe(), error = %e, "asset media left behind after delete");
    }
    Ok(status)
}

#[utoipa::path(put, path = "/api/v1/assets/{name}/content", tag = "assets", operation_id = "uploadAssetContent",
    params(schemas::Name),
    request_body(content = schemas::Mp4Upload, content_type = "application/octet-stream", description = "A progressive MP4 file (raw bytes; any Content-Type, e.g. video/mp4)"),
    responses((status = 200, description = "Ingested; the asset with its track summary", body = schemas::Asset),
        (status = 400, description = "Not ingestible media", body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 404, body = schemas::Error), (status = 413, body = schemas::Error)))]
pub async fn upload(
    _: Admin,
    State(s): State<AppState>,
    EntityName(name): EntityName,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Asset>> {
    s.store().get_asset(&name).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > UPLOAD_BODY_LIMIT) {
        return Err(ApiError::PayloadTooLarge {
            limit: UPLOAD_BODY_LIMIT,
        });
    }
    let tmp_dir = s.data_dir().join(TMP_DIR);
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(|e| ApiError::internal(format!("{}: {e}", tmp_dir.display())))?;
    let upload = receive(body, &tmp_dir).await?;
    let r = ingest_file(&s, &name, &upload, SEGMENT_DURATION_SECS).await;
    drop(upload);
    Ok(Json(r?))
}

/// Ingests the MP4 at `src` as the media of the existing asset `name`
/// (segments of about `segment_duration_secs`), publishes it to the media
/// store and records it; the updated record. Media errors are
/// [`ApiError::BadMedia`] (without server paths).
pub async fn ingest_file(
    s: &AppState,
    name: &str,
    src: &Path,
    segment_duration_secs: f64,
) -> ApiResult<Asset> {
    let media = s.media().clone();
    let staged = media.staging_dir(name);
    if let Some(parent) = staged.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", parent.display())))?;
    }
    // Media errors name the file; the caller should not see server paths.
    let src_name = src.to_string_lossy().into_owned();
    let (src, staged_for_ingest) = (src.to_owned(), staged.clone());
    let index = tokio::task::spawn_blocking(move || {
        media::asset::ingest(&src, &staged_for_ingest, segment_duration_secs)
    })
    .await
    .map_err(|e| ApiError::internal(format!("ingest task: {e}")))?
    .map_err(|e| match e {
        // Our own files (the upload, the new folder): not the caller's fault.
        media::Error::Io { .. } => ApiError::internal(e),
        other => ApiError::BadMedia {
            message: format!("the upload is not ingestible media: {other}")
                .replace(&src_name, "upload"),
        },
    })?;

    let _swap = s.inner.ingest_lock.lock().await;
    // Re-read under the lock: the record may have changed (or gone) meanwhile.
    let mut asset = match s.store().get_asset(name).await {
        Ok(a) => a,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&staged).await;
            return Err(e.into());
        }
    };
    let published = media
        .publish(name, &staged)
        .await
        .map_err(ApiError::internal)?;
    let previous = asset.storage.path.clone();
    asset.storage = AssetStorage {
        path: published.storage_path().to_owned(),
        tracks: track_summary(&index),
    };
    match s.store().put_asset(asset).await {
        Ok(put) => {
            published.commit(Some(&previous)).await;
            tracing::info!(asset = %name, tracks = index.tracks.len(), store = %media.describe(), "asset ingested");
            Ok(put.value)
        }
        Err(e) => {
            // Keep media and record in agreement: undo the publish.
            published.rollback().await;
            Err(e.into())
        }
    }
}

/// The asset record's view of an index: each track without its segment
/// list, with `segmentCount` instead.
fn track_summary(index: &media::asset::AssetIndex) -> serde_json::Value {
    let tracks = index
        .tracks
        .iter()
        .map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.remove("segments");
                o.insert(
                    "segmentCount".into(),
                    serde_json::Value::from(t.segments.len()),
                );
            }
            v
        })
        .collect();
    serde_json::Value::Array(tracks)
}

/// Streams the body into a temporary file (deleted when dropped).
async fn receive(body: Body, dir: &Path) -> ApiResult<tempfile::TempPath> {
    let tmp = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(".mp4")
        .tempfile_in(dir)
        .map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
    let (file, path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("", format!("upload interrupted: {e}")))?;
        total = total.saturating_add(chunk.len() as u64);
        if total > UPLOAD_BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge {
                limit: UPLOAD_BODY_LIMIT,
            });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    if total == 0 {
        return Err(ApiError::bad_request("", "the upload is empty"));
    }
    Ok(path)
}
