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

use super::entity::{self, ApiEntity};
use crate::error::{ApiError, ApiResult};
use crate::extract::{EntityName, JsonObject};
use crate::openapi::schemas;
use crate::{AppState, UPLOAD_BODY_LIMIT, auth::Admin};
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as AxumPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt as _;
use keys::model::{Asset, AssetStorage, Validate};
use serde::Deserialize;
use std::path::{Path, PathBuf};
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

entity_api! {
    entity: Asset,
    collection: "assets",
    operations: "listAssets", "getAsset", "putAsset", "deleteAsset",
    schemas: AssetList, Asset, AssetInput,
    list: "One page of assets",
    get: "The asset",
    delete: "Deleted, with its media",
    delete_409: "A streaming locator uses the asset",
}

impl ApiEntity for Asset {
    const NOT_KEPT: &'static [(&'static str, &'static str)] = &[
        ("assetId", "read-only: castguard assigns its own"),
        ("created", entity::SET_BY_CASTGUARD),
        ("lastModified", entity::SET_BY_CASTGUARD),
        (
            "container",
            "castguard keeps media itself: ingest the asset's files (castguard asset ingest NAME --dir FOLDER)",
        ),
        (
            "storageAccountName",
            "castguard keeps media itself: ingest the asset's files (castguard asset ingest NAME --dir FOLDER)",
        ),
        (
            "storageEncryptionFormat",
            "castguard stores media clear and encrypts on request",
        ),
        ("encryptionScope", "castguard keeps media itself"),
        (
            "storage",
            "read-only: castguard sets it from the ingested media",
        ),
    ];

    /// Only the writable fields of the body; where the media lives is kept
    /// (or, for a new asset, set by the server).
    async fn from_put(s: &AppState, name: String, body: JsonObject) -> ApiResult<Self> {
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
        Ok(asset)
    }

    /// The record, then its media and source files, under the ingest lock
    /// so that no upload publishes media for a deleted asset.
    async fn handle_delete(s: &AppState, name: String) -> ApiResult<StatusCode> {
        let _swap = s.inner.ingest_lock.lock().await;
        let status = entity::delete::<Asset>(s, &name).await?;
        if let Err(e) = s.media().remove(&name).await {
            tracing::warn!(asset = %name, store = %s.media().describe(), error = %e, "asset media left behind after delete");
        }
        let sources = sources_dir(s, &name);
        match tokio::fs::remove_dir_all(&sources).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(asset = %name, error = %e, "asset source files left behind after delete");
            }
            _ => {}
        }
        Ok(status)
    }
}

#[utoipa::path(put, path = "/api/v1/assets/{name}/content", tag = "assets", operation_id = "uploadAssetContent",
    params(schemas::Name),
    request_body(content = schemas::Mp4Upload, content_type = "application/octet-stream", description = "One MP4 file as the raw body (any Content-Type, e.g. video/mp4), or several as `multipart/form-data` parts with file names (a ladder's renditions, audio apart): every track of every file joins the title, replacing its files. A part named `text:LANG[:ROLE[:NAME]]` (e.g. `text:en`, `text:fr:forced`; ROLE subtitle, caption, forced or description) is a subtitle file, WebVTT or TTML, never encrypted"),
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
    check_declared_length(&headers)?;
    let sources = Sources::new(&s).await?;
    match multipart_boundary(&headers) {
        Some(boundary) => sources.receive_multipart(body, boundary).await?,
        None => {
            sources.receive(body, UPLOAD_FILE_NAME).await?;
        }
    }
    Ok(Json(ingest_sources(&s, &name, sources).await?))
}

#[utoipa::path(put, path = "/api/v1/assets/{name}/files/{file}", tag = "assets", operation_id = "putAssetFile",
    params(schemas::Name, schemas::FileName),
    request_body(content = schemas::Mp4Upload, content_type = "application/octet-stream", description = "One MP4 file as the raw body"),
    responses((status = 200, description = "Added or replaced; the title re-ingested from all its files", body = schemas::Asset),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error),
        (status = 404, body = schemas::Error),
        (status = 409, description = "This node does not keep the title's other files", body = schemas::Error),
        (status = 413, body = schemas::Error)))]
pub async fn put_file(
    _: Admin,
    State(s): State<AppState>,
    AxumPath((name, file)): AxumPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Asset>> {
    keys::model::validate_name("name", &name)?;
    check_file_name(&file)?;
    let asset = s.store().get_asset(&name).await?;
    sources_here(&s, &asset).await?;
    check_declared_length(&headers)?;
    let sources = Sources::new(&s).await?;
    sources.keep_current(&s, &name, Some(&file)).await?;
    sources.receive(body, &file).await?;
    Ok(Json(ingest_sources(&s, &name, sources).await?))
}

#[utoipa::path(delete, path = "/api/v1/assets/{name}/files/{file}", tag = "assets", operation_id = "deleteAssetFile",
    params(schemas::Name, schemas::FileName),
    responses((status = 200, description = "Removed; the title re-ingested from its other files", body = schemas::Asset),
        (status = 400, body = schemas::Error), (status = 401, body = schemas::Error), (status = 404, body = schemas::Error),
        (status = 409, description = "This node does not keep the title's other files", body = schemas::Error)))]
pub async fn delete_file(
    _: Admin,
    State(s): State<AppState>,
    AxumPath((name, file)): AxumPath<(String, String)>,
) -> ApiResult<Json<Asset>> {
    keys::model::validate_name("name", &name)?;
    check_file_name(&file)?;
    let asset = s.store().get_asset(&name).await?;
    sources_here(&s, &asset).await?;
    let current = sources_dir(&s, &name);
    if !tokio::fs::try_exists(current.join(&file)).await.unwrap_or(false) {
        return Err(ApiError::NotFound {
            message: format!("asset {name} has no file {file}"),
            field: Some("file".into()),
        });
    }
    let sources = Sources::new(&s).await?;
    sources.keep_current(&s, &name, Some(&file)).await?;
    sources.forget(&file);
    if sources.files().await?.is_empty() {
        return Err(ApiError::bad_request(
            "file",
            "this is the title's last file: upload another first, or delete the asset",
        ));
    }
    Ok(Json(ingest_sources(&s, &name, sources).await?))
}

/// Changing one file of a title needs its other files: refuses (409) when
/// the asset has media but this node does not keep its sources (they stay
/// on the node that ingested them), rather than re-ingest a title of the
/// one new file.
async fn sources_here(s: &AppState, asset: &Asset) -> ApiResult<()> {
    let has_media = asset.storage.tracks.as_array().is_some_and(|t| !t.is_empty());
    if has_media && !tokio::fs::try_exists(sources_dir(s, &asset.name)).await.unwrap_or(false) {
        return Err(ApiError::Conflict {
            message: format!(
                "this node does not keep the source files of asset {}: upload the whole title with PUT /api/v1/assets/{}/content",
                asset.name, asset.name
            ),
        });
    }
    Ok(())
}

/// Name of the one file of a raw (not multipart) content upload.
const UPLOAD_FILE_NAME: &str = "upload.mp4";
/// Files of one title at most.
const MAX_FILES: usize = 64;

fn check_declared_length(headers: &HeaderMap) -> ApiResult<()> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > UPLOAD_BODY_LIMIT) {
        return Err(ApiError::PayloadTooLarge {
            limit: UPLOAD_BODY_LIMIT,
        });
    }
    Ok(())
}

/// The boundary of a `multipart/form-data` body, if the request is one.
fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(ct).ok()
}

/// A source file name: it names a file on disk and appears in errors and
/// the track summary, so only a safe alphabet, no leading dot.
fn check_file_name(file: &str) -> ApiResult<()> {
    let ok = !file.is_empty()
        && file.len() <= 128
        && !file.starts_with('.')
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "file",
            "a file name is 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'",
        ))
    }
}

/// Where the source files of an asset are kept (so that one of them can be
/// replaced later): `DATA_DIR/sources/<name>/`.
fn sources_dir(s: &AppState, name: &str) -> PathBuf {
    s.data_dir().join(SOURCES_DIR).join(name)
}

/// Folder of kept source files inside the data directory.
pub const SOURCES_DIR: &str = "sources";

/// The files of a title being put together in a fresh folder under
/// `DATA_DIR/tmp/` (removed when dropped unless it became the asset's
/// sources).
struct Sources {
    dir: tempfile::TempDir,
    /// The files in title order: as uploaded, a replaced file keeping its
    /// place, an added one last.
    order: std::sync::Mutex<Vec<String>>,
}

/// The title order of an asset's kept source files (one entry a line: a
/// media file's name, or `text:LANG[:ROLE[:NAME]]=FILE` for a subtitle file).
const ORDER_FILE: &str = ".order";

/// The file an order entry names.
fn entry_file(entry: &str) -> &str {
    match entry.strip_prefix("text:").and_then(|e| e.split_once('=')) {
        Some((_, file)) => file,
        None => entry,
    }
}

/// The subtitle file of a multipart part named `text:LANG[:ROLE[:NAME]]`: its
/// order entry with the language made canonical (`text:fra` → `text:fr`).
fn text_entry(part: &str, file: &str) -> ApiResult<Option<String>> {
    let Some(spec) = part.strip_prefix("text:") else {
        return Ok(None);
    };
    let input = media::text::TextInput::parse(&format!("{spec}={file}")).map_err(|e| ApiError::bad_request("text", e))?;
    Ok(Some(format!("text:{}={file}", input.spec())))
}

impl Sources {
    async fn new(s: &AppState) -> ApiResult<Sources> {
        let tmp_dir = s.data_dir().join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", tmp_dir.display())))?;
        let dir = tempfile::Builder::new()
            .prefix("sources-")
            .tempdir_in(&tmp_dir)
            .map_err(|e| ApiError::internal(format!("{}: {e}", tmp_dir.display())))?;
        Ok(Sources { dir, order: Default::default() })
    }

    fn order(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an order entry (a file name, or a text entry), unless its file
    /// is already in the title.
    fn push(&self, entry: &str) {
        let mut order = self.order();
        if !order.iter().any(|f| entry_file(f) == entry_file(entry)) {
            order.push(entry.to_owned());
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The order entries of the files present, in title order.
    async fn files(&self) -> ApiResult<Vec<String>> {
        let order = self.order().clone();
        let mut names = Vec::with_capacity(order.len());
        for f in order {
            if tokio::fs::try_exists(self.path().join(entry_file(&f))).await.unwrap_or(false) {
                names.push(f);
            }
        }
        Ok(names)
    }

    /// Takes `file` out of the title.
    fn forget(&self, file: &str) {
        self.order().retain(|f| entry_file(f) != file);
    }

    /// Links (or copies) the asset's current sources here, in their
    /// order, except the file `except` (which keeps its place in the
    /// order, for a replacement to take).
    async fn keep_current(&self, s: &AppState, name: &str, except: Option<&str>) -> ApiResult<()> {
        let current = sources_dir(s, name);
        let failed = |e: std::io::Error| ApiError::internal(format!("{}: {e}", current.display()));
        let mut names: Vec<String> = match tokio::fs::read_to_string(current.join(ORDER_FILE)).await {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(failed(e)),
        };
        // Files the order does not list (none, unless it was lost) go last, by name.
        let mut rest = Vec::new();
        match tokio::fs::read_dir(&current).await {
            Ok(mut rd) => {
                while let Some(e) = rd.next_entry().await.map_err(failed)? {
                    let file = e.file_name().to_string_lossy().into_owned();
                    if !names.iter().any(|n| entry_file(n) == file) {
                        rest.push(file);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(failed(e)),
        }
        rest.sort();
        names.extend(rest);
        for entry in names {
            let file = entry_file(&entry).to_owned();
            if check_file_name(&file).is_err() {
                continue;
            }
            self.push(&entry);
            if Some(file.as_str()) == except {
                continue;
            }
            let (from, to) = (current.join(&file), self.path().join(&file));
            if !tokio::fs::try_exists(&from).await.unwrap_or(false) {
                continue;
            }
            if tokio::fs::hard_link(&from, &to).await.is_err() {
                tokio::fs::copy(&from, &to).await.map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Streams one body into the file `file` here, counting it against the
    /// upload limit.
    async fn receive(&self, body: Body, file: &str) -> ApiResult<u64> {
        self.push(file);
        let mut stream = body.into_data_stream();
        let mut out = self.create(file).await?;
        let mut total: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::bad_request("", format!("upload interrupted: {e}")))?;
            total = self.write(&mut out, &chunk, total).await?;
        }
        self.finish(out, file, total).await
    }

    /// Streams every file part of a `multipart/form-data` body here.
    async fn receive_multipart(&self, body: Body, boundary: String) -> ApiResult<()> {
        let mut parts = multer::Multipart::new(body.into_data_stream(), boundary);
        let bad = |e: multer::Error| ApiError::bad_request("", format!("multipart body: {e}"));
        let mut total: u64 = 0;
        let mut count = 0usize;
        while let Some(mut field) = parts.next_field().await.map_err(bad)? {
            let Some(file) = field.file_name().map(str::to_owned) else {
                continue;
            };
            // Browsers and curl send the name as given; keep the last part.
            let file = file.rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
            check_file_name(&file)?;
            count += 1;
            if count > MAX_FILES {
                return Err(ApiError::bad_request("", format!("more than {MAX_FILES} files")));
            }
            if tokio::fs::try_exists(self.path().join(&file)).await.unwrap_or(false) {
                return Err(ApiError::bad_request("", format!("file {file} given twice")));
            }
            // A part named `text:LANG[:ROLE[:NAME]]` is a subtitle file.
            match text_entry(field.name().unwrap_or_default(), &file)? {
                Some(entry) => self.push(&entry),
                None => self.push(&file),
            }
            let mut out = self.create(&file).await?;
            let start = total;
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                total = self.write(&mut out, &chunk, total).await?;
            }
            self.finish(out, &file, total - start).await?;
        }
        if count == 0 {
            return Err(ApiError::bad_request("", "the multipart body has no file part"));
        }
        Ok(())
    }

    async fn create(&self, file: &str) -> ApiResult<tokio::fs::File> {
        let path = self.path().join(file);
        tokio::fs::File::create(&path)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))
    }

    async fn write(&self, out: &mut tokio::fs::File, chunk: &[u8], total: u64) -> ApiResult<u64> {
        let total = total.saturating_add(chunk.len() as u64);
        if total > UPLOAD_BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge {
                limit: UPLOAD_BODY_LIMIT,
            });
        }
        out.write_all(chunk)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", self.path().display())))?;
        Ok(total)
    }

    async fn finish(&self, mut out: tokio::fs::File, file: &str, len: u64) -> ApiResult<u64> {
        out.flush()
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", self.path().display())))?;
        if len == 0 {
            return Err(ApiError::bad_request("", format!("{file}: the upload is empty")));
        }
        Ok(len)
    }
}

/// Ingests the files in `sources` as the title of the existing asset
/// `name`, publishes it, and keeps the files as the asset's sources.
async fn ingest_sources(s: &AppState, name: &str, sources: Sources) -> ApiResult<Asset> {
    let entries = sources.files().await?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut texts: Vec<(String, media::text::TextInput)> = Vec::new();
    for e in &entries {
        let file = entry_file(e);
        let path = sources.path().join(file);
        match e.strip_prefix("text:").and_then(|t| t.split_once('=')) {
            Some((spec, _)) => {
                let input = media::text::TextInput::parse(&format!("{spec}={}", path.display()))
                    .map_err(|m| ApiError::bad_request("text", m))?;
                texts.push((file.to_owned(), input));
            }
            None => files.push((file.to_owned(), path)),
        }
    }
    if files.is_empty() {
        return Err(ApiError::bad_request("", "the title has subtitles but no audio or video file"));
    }
    let asset = ingest_title(s, name, &files, &texts, SEGMENT_DURATION_SECS).await?;
    let order: String = entries.iter().map(|f| format!("{f}\n")).collect();
    if let Err(e) = tokio::fs::write(sources.path().join(ORDER_FILE), order).await {
        tracing::warn!(asset = %name, error = %e, "order of the source files not kept");
    }
    // The title is published: its files become the asset's sources.
    let current = sources_dir(s, name);
    let _swap = s.inner.ingest_lock.lock().await;
    if let Some(parent) = current.parent() {
        let _ = tokio::fs::create_dir_all(parent).await;
    }
    let old = current.with_extension(format!("old-{}", std::process::id()));
    let had = tokio::fs::rename(&current, &old).await.is_ok();
    let dir = sources.dir.keep();
    if let Err(e) = tokio::fs::rename(&dir, &current).await {
        tracing::warn!(asset = %name, error = %e, "source files not kept (replacing one file later needs a full upload)");
        let _ = tokio::fs::remove_dir_all(&dir).await;
    }
    if had {
        let _ = tokio::fs::remove_dir_all(&old).await;
    }
    Ok(asset)
}

/// Ingests one MP4 at `src` as the media of the existing asset `name`; see
/// [`ingest_files`].
pub async fn ingest_file(
    s: &AppState,
    name: &str,
    src: &Path,
    segment_duration_secs: f64,
) -> ApiResult<Asset> {
    let file = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| UPLOAD_FILE_NAME.to_owned());
    ingest_files(s, name, &[(file, src.to_owned())], segment_duration_secs).await
}

/// Ingests the title made of `files` (file name as the caller knows it,
/// path on this machine) as the media of the existing asset `name`
/// (segments of about `segment_duration_secs`), publishes it to the media
/// store and records it; the updated record. Media errors are
/// [`ApiError::BadMedia`] naming the files by their names, never by
/// server paths.
pub async fn ingest_files(
    s: &AppState,
    name: &str,
    files: &[(String, PathBuf)],
    segment_duration_secs: f64,
) -> ApiResult<Asset> {
    ingest_title(s, name, files, &[], segment_duration_secs).await
}

/// [`ingest_files`] with subtitle files: `(name as the caller knows it,
/// the file on this machine with its language and role)`.
pub async fn ingest_title(
    s: &AppState,
    name: &str,
    files: &[(String, PathBuf)],
    texts: &[(String, media::text::TextInput)],
    segment_duration_secs: f64,
) -> ApiResult<Asset> {
    let media = s.media().clone();
    let staged = media.staging_dir(name);
    if let Some(parent) = staged.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| ApiError::internal(format!("{}: {e}", parent.display())))?;
    }
    let srcs: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();
    let text_inputs: Vec<media::text::TextInput> = texts.iter().map(|(_, t)| t.clone()).collect();
    let names: Vec<(String, String)> = files
        .iter()
        .map(|(n, p)| (p.to_string_lossy().into_owned(), n.clone()))
        .chain(texts.iter().map(|(n, t)| (t.path.to_string_lossy().into_owned(), n.clone())))
        .collect();
    let staged_for_ingest = staged.clone();
    let ingested = tokio::task::spawn_blocking(move || {
        media::asset::ingest_with_text(&srcs, &text_inputs, &staged_for_ingest, segment_duration_secs)
    })
    .await;
    // From here every failure removes the staging folder (publish consumes
    // it either way): a refused upload leaves nothing on disk.
    let ingested = match ingested {
        Ok(Ok(index)) => Ok(index),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&staged).await;
            return Err(ApiError::internal(format!("ingest task: {e}")));
        }
    };
    if ingested.is_err() {
        let _ = tokio::fs::remove_dir_all(&staged).await;
    }
    let index = ingested.map_err(|e| match e {
        // Our own files (the upload, the new folder): not the caller's fault.
        media::Error::Io { .. } => ApiError::internal(e),
        other => {
            let mut message = format!("not ingestible media: {other}");
            for (path, file) in &names {
                message = message.replace(path.as_str(), file);
            }
            ApiError::BadMedia { message }
        }
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
            for note in &index.notes {
                let mut note = note.clone();
                for (path, file) in &names {
                    note = note.replace(path.as_str(), file);
                }
                tracing::info!(asset = %name, "{note}");
            }
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
