//! Where the clear media of ingested assets live (DESIGN.md: "media blobs
//! on the file system", and S3-compatible object storage so that many
//! nodes share one copy).
//!
//! An asset is a folder of clear CMAF (`index.json`, `video_1/init.mp4`,
//! `video_1/1.m4s`, ...; `media::asset`). Ingest always writes it to a local
//! staging folder first (it needs a seekable input and local files), then
//! [`MediaStore::publish`] makes it visible:
//! - **local files** (the default, `DATA_DIR/assets/<name>/`): the staged
//!   folder is renamed into place, so a reader sees the old folder or the
//!   new one, never a mix; the origin reads these files directly;
//! - **object storage** (`s3://bucket/prefix`, through the `object_store`
//!   crate): each upload goes to a fresh *generation*
//!   `prefix/assets/<name>/<generation>/`, its media objects first and
//!   `index.json` last. `index.json` is the commit marker: a reader that
//!   finds it finds every object it names (S3 is strongly consistent for
//!   reads after writes since 2020-12). The asset record then points at the
//!   new generation, and the previous one is deleted after a delay, so
//!   nodes still serving it from a cached locator keep finding its objects.
//!   A re-upload therefore never mixes the segments of two ingests.
//!
//! Credentials for S3 come from the standard `AWS_*` variables; they are
//! never logged, and errors are scrubbed of them ([`MediaStoreError`]).

use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Name of the commit marker of a stored asset (`media::asset::INDEX_FILE`).
pub const INDEX_OBJECT: &str = "index.json";
/// Folder (or key prefix) of ingested assets.
pub const ASSETS_DIR: &str = "assets";
/// How long a replaced generation of an asset stays readable.
pub const DEFAULT_RETIRE_DELAY: Duration = Duration::from_secs(60);
/// Objects uploaded at once by [`MediaStore::publish`].
const UPLOAD_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("media URL: {0}")]
    Url(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An object store failure, its text scrubbed of credentials.
    #[error("object store, {what}: {message}")]
    Object { what: String, message: String },
    #[error("{what}: {size} bytes do not fit in memory")]
    TooLarge { what: String, size: u64 },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, MediaStoreError>;

fn io(path: &Path, source: std::io::Error) -> MediaStoreError {
    MediaStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Identity of a stored object: changes whenever the object is replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStamp {
    pub e_tag: Option<String>,
    pub version: Option<String>,
    pub size: u64,
    pub modified: SystemTime,
}

impl ObjectStamp {
    fn of(meta: &object_store::ObjectMeta) -> Self {
        ObjectStamp {
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
            size: meta.size,
            modified: SystemTime::from(meta.last_modified),
        }
    }
}

/// The media store of a server; cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    inner: Arc<Backend>,
}

impl MediaStore {
    /// How long a replaced generation on object storage stays readable
    /// ([`DEFAULT_RETIRE_DELAY`] unless set here): at least the time nodes
    /// cache a locator's resolution, plus requests in flight.
    pub fn with_retire_delay(mut self, delay: Duration) -> Self {
        if let Some(Backend::Object { retire_after, .. }) = Arc::get_mut(&mut self.inner) {
            *retire_after = delay;
        }
        self
    }
}

enum Backend {
    Local {
        root: PathBuf,
    },
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: ObjPath,
        /// Local folder where ingest stages an asset before upload.
        staging: PathBuf,
        retire_after: Duration,
        /// `s3://bucket/prefix`, for messages.
        describe: String,
        /// Credential values scrubbed from error text.
        secrets: Vec<String>,
    },
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the object store's own Debug: it may print credentials.
        f.debug_tuple("MediaStore").field(&self.describe()).finish()
    }
}

impl MediaStore {
    /// Local files: asset `assets/<name>` is the folder `root/assets/<name>`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        MediaStore {
            inner: Arc::new(Backend::Local { root: root.into() }),
        }
    }

    /// From `--media-url`: `s3://bucket[/prefix]` (endpoint, region and
    /// credentials from the `AWS_*` environment variables, e.g.
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP=true` for a plain-HTTP
    /// endpoint) or `file:///abs/path` (local files there). `data_dir`
    /// holds the staging folder of uploads.
    pub fn from_url(url: &str, data_dir: &Path) -> Result<Self> {
        Self::from_url_with(url, data_dir, std::env::vars())
    }

    /// As [`MediaStore::from_url`], with the `AWS_*` settings given instead
    /// of read from the environment (other names are ignored).
    pub fn from_url_with(
        url: &str,
        data_dir: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| {
            MediaStoreError::Url(format!(
                "not a URL ({e}); expected s3://bucket/prefix or file:///path"
            ))
        })?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(MediaStoreError::Url(
                "credentials do not belong in the URL: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(MediaStoreError::Url(
                "no query or fragment is allowed".into(),
            ));
        }
        match parsed.scheme() {
            "file" => {
                let root = parsed.to_file_path().map_err(|_| {
                    MediaStoreError::Url("file: URL without an absolute local path".into())
                })?;
                Ok(MediaStore::local(root))
            }
            "s3" | "s3a" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| MediaStoreError::Url("s3:// URL without a bucket".into()))?
                    .to_owned();
                let prefix_text = parsed.path().trim_matches('/').to_owned();
                let prefix = object_path(&ObjPath::default(), &prefix_text)?;
                let mut builder = object_store::aws::AmazonS3Builder::new();
                let mut secrets = Vec::new();
                for (k, v) in vars.into_iter().filter(|(k, _)| k.starts_with("AWS_")) {
                    if matches!(
                        k.as_str(),
                        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
                    ) && v.len() >= 4
                    {
                        secrets.push(v.clone());
                    }
                    // As object_store's own `from_env` (AWS_DEFAULT_REGION
                    // included, as a fallback of AWS_REGION).
                    let key = k.to_ascii_lowercase();
                    if let Ok(config) = key.parse::<object_store::aws::AmazonS3ConfigKey>() {
                        builder = builder.with_config(config, v);
                    }
                }
                let describe = if prefix_text.is_empty() {
                    format!("s3://{bucket}")
                } else {
                    format!("s3://{bucket}/{prefix_text}")
                };
                let scrub = |s: String| scrub(s, &secrets);
                let store = builder
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| MediaStoreError::Url(scrub(format!("{describe}: {e}"))))?;
                Ok(MediaStore {
                    inner: Arc::new(Backend::Object {
                        store: Arc::new(store),
                        prefix,
                        staging: data_dir.join("tmp"),
                        retire_after: DEFAULT_RETIRE_DELAY,
                        describe,
                        secrets,
                    }),
                })
            }
            other => Err(MediaStoreError::Url(format!(
                "unsupported scheme '{other}': expected s3://bucket/prefix or file:///path"
            ))),
        }
    }

    /// Over any `object_store` implementation (tests: `InMemory`).
    pub fn object(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        data_dir: &Path,
        retire_after: Duration,
    ) -> Result<Self> {
        Ok(MediaStore {
            inner: Arc::new(Backend::Object {
                prefix: object_path(&ObjPath::default(), prefix)?,
                describe: format!("{store}/{prefix}"),
                store,
                staging: data_dir.join("tmp"),
                retire_after,
                secrets: Vec::new(),
            }),
        })
    }

    /// `local files in DIR` or `s3://bucket/prefix`; never credentials.
    pub fn describe(&self) -> String {
        match &*self.inner {
            Backend::Local { root } => format!("local files in {}", root.display()),
            Backend::Object { describe, .. } => describe.clone(),
        }
    }

    /// The folder under which local assets live (`None` for object storage):
    /// the origin reads local segment files directly, without going
    /// through the async object API.
    pub fn local_root(&self) -> Option<&Path> {
        match &*self.inner {
            Backend::Local { root } => Some(root),
            Backend::Object { .. } => None,
        }
    }

    /// A fresh local folder (not created) for ingest to write asset `name`
    /// into before [`MediaStore::publish`]: beside the final folder for
    /// local files (so publishing is a rename), else under `DATA_DIR/tmp/`.
    pub fn staging_dir(&self, name: &str) -> PathBuf {
        let unique = uuid::Uuid::new_v4().simple();
        match &*self.inner {
            Backend::Local { root } => root.join(ASSETS_DIR).join(format!(".upload-{unique}")),
            Backend::Object { staging, .. } => staging.join(format!("ingest-{name}-{unique}")),
        }
    }

    /// Makes the asset ingested into `staged` (from
    /// [`MediaStore::staging_dir`]) the media of asset `name`; `staged` is
    /// consumed either way. The caller then records
    /// [`Published::storage_path`] in the asset record and calls
    /// [`Published::commit`] (or [`Published::rollback`] when that fails).
    pub async fn publish(&self, name: &str, staged: &Path) -> Result<Published> {
        if let Err(e) = check_name(name) {
            remove_dir_quietly(staged).await;
            return Err(e);
        }
        match &*self.inner {
            Backend::Local { root } => {
                let assets = root.join(ASSETS_DIR);
                let tmp = root.join("tmp");
                for d in [&assets, &tmp] {
                    tokio::fs::create_dir_all(d).await.map_err(|e| io(d, e))?;
                }
                let final_dir = assets.join(name);
                let old = tmp.join(format!("old-{}", uuid::Uuid::new_v4().simple()));
                let had_old = match tokio::fs::rename(&final_dir, &old).await {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => {
                        remove_dir_quietly(staged).await;
                        return Err(io(&final_dir, e));
                    }
                };
                if let Err(e) = tokio::fs::rename(staged, &final_dir).await {
                    remove_dir_quietly(staged).await;
                    if had_old {
                        let _ = tokio::fs::rename(&old, &final_dir).await;
                    }
                    return Err(io(&final_dir, e));
                }
                Ok(Published {
                    store: self.clone(),
                    storage_path: format!("{ASSETS_DIR}/{name}"),
                    name: name.to_owned(),
                    local_old: had_old.then_some(old),
                })
            }
            Backend::Object { .. } => {
                let generation = uuid::Uuid::new_v4().simple().to_string();
                let storage_path = format!("{ASSETS_DIR}/{name}/{generation}");
                let r = self.upload(staged, &storage_path).await;
                remove_dir_quietly(staged).await;
                if let Err(e) = r {
                    if let Err(e2) = self.remove_prefix(&storage_path).await {
                        tracing::warn!(store = %self.describe(), path = %storage_path, error = %e2, "half-uploaded asset left behind (no index.json: never served)");
                    }
                    return Err(e);
                }
                Ok(Published {
                    store: self.clone(),
                    storage_path,
                    name: name.to_owned(),
                    local_old: None,
                })
            }
        }
    }

    /// Uploads every file below `staged` under `storage_path`, `index.json`
    /// last.
    async fn upload(&self, staged: &Path, storage_path: &str) -> Result<()> {
        let Backend::Object { store, prefix, .. } = &*self.inner else {
            return Err(MediaStoreError::Invalid("upload on local files".into()));
        };
        let base = object_path(prefix, storage_path)?;
        let root = staged.to_owned();
        let files = tokio::task::spawn_blocking(move || walk(&root))
            .await
            .map_err(|e| MediaStoreError::Invalid(format!("staging walk: {e}")))??;
        if !files.iter().any(|f| f == INDEX_OBJECT) {
            return Err(MediaStoreError::Invalid(format!(
                "{}: no {INDEX_OBJECT}",
                staged.display()
            )));
        }
        let put = |rel: String| {
            let store = store.clone();
            let base = base.clone();
            let file = staged.join(&rel);
            async move {
                let bytes = tokio::fs::read(&file).await.map_err(|e| io(&file, e))?;
                let location = object_path(&base, &rel)?;
                store
                    .put(&location, PutPayload::from(bytes))
                    .await
                    .map_err(|e| self.object_error(format!("put {location}"), e))?;
                Ok::<(), MediaStoreError>(())
            }
        };
        let media_files: Vec<String> = files.into_iter().filter(|f| f != INDEX_OBJECT).collect();
        futures_util::stream::iter(media_files.into_iter().map(put))
            .buffer_unordered(UPLOAD_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        put(INDEX_OBJECT.to_owned()).await
    }

    /// Deletes the media of asset `name` (every generation).
    pub async fn remove(&self, name: &str) -> Result<()> {
        check_name(name)?;
        match &*self.inner {
            Backend::Local { root } => {
                let dir = root.join(ASSETS_DIR).join(name);
                match tokio::fs::remove_dir_all(&dir).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir, e)),
                    _ => Ok(()),
                }
            }
            Backend::Object { .. } => self.remove_prefix(&format!("{ASSETS_DIR}/{name}")).await,
        }
    }

    /// Deletes every object below `storage_path`, the `index.json` markers
    /// first so that no reader opens a generation while its media go.
    async fn remove_prefix(&self, storage_path: &str) -> Result<()> {
        let Backend::Object { store, prefix, .. } = &*self.inner else {
            return Ok(());
        };
        let base = object_path(prefix, storage_path)?;
        let all: Vec<ObjPath> = store
            .list(Some(&base))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| self.object_error(format!("list {base}"), e))?;
        let (markers, rest): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|p| p.filename() == Some(INDEX_OBJECT));
        for batch in [markers, rest] {
            let stream = futures_util::stream::iter(batch.into_iter().map(Ok)).boxed();
            store
                .delete_stream(stream)
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| self.object_error(format!("delete below {base}"), e))?;
        }
        Ok(())
    }

    /// The stamp of object `rel` of the asset at `storage_path`, `None`
    /// when it does not exist.
    pub async fn head(&self, storage_path: &str, rel: &str) -> Result<Option<ObjectStamp>> {
        match &*self.inner {
            Backend::Local { root } => {
                let path = local_path(root, storage_path, rel)?;
                match tokio::fs::metadata(&path).await {
                    Ok(m) => Ok(Some(ObjectStamp {
                        e_tag: None,
                        version: None,
                        size: m.len(),
                        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    })),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io(&path, e)),
                }
            }
            Backend::Object { store, prefix, .. } => {
                let location = object_path(&object_path(prefix, storage_path)?, rel)?;
                match store.head(&location).await {
                    Ok(meta) => Ok(Some(ObjectStamp::of(&meta))),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.object_error(format!("head {location}"), e)),
                }
            }
        }
    }

    /// Object `rel` of the asset at `storage_path` read into `buf`
    /// (cleared first), with `headroom` bytes of spare capacity reserved up
    /// front so the caller can grow it in place; its stamp, or `None` (and
    /// `buf` empty) when it does not exist. One GET.
    pub async fn read_into(
        &self,
        storage_path: &str,
        rel: &str,
        buf: &mut Vec<u8>,
        headroom: usize,
    ) -> Result<Option<ObjectStamp>> {
        buf.clear();
        match &*self.inner {
            Backend::Local { root } => {
                let path = local_path(root, storage_path, rel)?;
                let stamp = match self.head(storage_path, rel).await? {
                    Some(s) => s,
                    None => return Ok(None),
                };
                let bytes = match tokio::fs::read(&path).await {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io(&path, e)),
                };
                reserve(
                    buf,
                    bytes.len() as u64,
                    headroom,
                    &path.display().to_string(),
                )?;
                buf.extend_from_slice(&bytes);
                Ok(Some(stamp))
            }
            Backend::Object { store, prefix, .. } => {
                let location = object_path(&object_path(prefix, storage_path)?, rel)?;
                let got = match store.get(&location).await {
                    Ok(g) => g,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(self.object_error(format!("get {location}"), e)),
                };
                let stamp = ObjectStamp::of(&got.meta);
                reserve(buf, got.meta.size, headroom, location.as_ref())?;
                let mut body = got.into_stream();
                while let Some(chunk) = body.next().await {
                    let chunk =
                        chunk.map_err(|e| self.object_error(format!("get {location}"), e))?;
                    buf.extend_from_slice(&chunk);
                }
                Ok(Some(stamp))
            }
        }
    }

    fn object_error(&self, what: String, e: object_store::Error) -> MediaStoreError {
        let secrets: &[String] = match &*self.inner {
            Backend::Object { secrets, .. } => secrets,
            Backend::Local { .. } => &[],
        };
        MediaStoreError::Object {
            what,
            message: scrub(e.to_string(), secrets),
        }
    }
}

/// An upload made visible, to be recorded in the asset record.
#[must_use = "commit or roll back"]
pub struct Published {
    store: MediaStore,
    storage_path: String,
    name: String,
    /// Local files: the replaced folder, parked under `tmp/`.
    local_old: Option<PathBuf>,
}

impl Published {
    /// What the asset record's `storage.path` must say (relative).
    pub fn storage_path(&self) -> &str {
        &self.storage_path
    }

    /// The record now names this upload: retire the media it replaced.
    /// `previous` is the record's former `storage.path`; on object storage
    /// that generation is deleted after the retire delay (in the
    /// background), so nodes that still resolve it keep working meanwhile.
    pub async fn commit(self, previous: Option<&str>) {
        if let Some(old) = &self.local_old {
            remove_dir_quietly(old).await;
        }
        let Backend::Object { retire_after, .. } = &*self.store.inner else {
            return;
        };
        let own = format!("{ASSETS_DIR}/{}/", self.name);
        // Only a generation of this asset, never the asset's whole prefix.
        let Some(previous) = previous
            .filter(|p| {
                *p != self.storage_path
                    && p.strip_prefix(&own)
                        .is_some_and(|g| !g.is_empty() && !g.contains('/'))
            })
            .map(str::to_owned)
        else {
            return;
        };
        let (store, delay) = (self.store.clone(), *retire_after);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(e) = store.remove_prefix(&previous).await {
                tracing::warn!(store = %store.describe(), path = %previous, error = %e, "replaced asset media left behind");
            }
        });
    }

    /// The record could not be updated: undo the publish.
    pub async fn rollback(self) {
        match &*self.store.inner {
            Backend::Local { root } => {
                let final_dir = root.join(ASSETS_DIR).join(&self.name);
                remove_dir_quietly(&final_dir).await;
                if let Some(old) = &self.local_old {
                    let _ = tokio::fs::rename(old, &final_dir).await;
                }
            }
            Backend::Object { .. } => {
                if let Err(e) = self.store.remove_prefix(&self.storage_path).await {
                    tracing::warn!(store = %self.store.describe(), path = %self.storage_path, error = %e, "rolled-back asset media left behind");
                }
            }
        }
    }
}

/// Asset names become one path segment: no separators, no dot names.
/// The entity name rule of the management API
/// ([`keys::model::validate_name`]): no separator, no `.`/`..`, no leading
/// dot (the staging folders' prefix), so a name is always one folder of
/// its own.
fn check_name(name: &str) -> Result<()> {
    keys::model::validate_name("name", name)
        .map_err(|_| MediaStoreError::Invalid(format!("'{name}' is not an asset name")))
}

/// `base` joined with the `/`-separated relative path `rel` (no empty,
/// `.` or `..` parts).
fn object_path(base: &ObjPath, rel: &str) -> Result<ObjPath> {
    let mut p = base.clone();
    if rel.is_empty() {
        return Ok(p);
    }
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(MediaStoreError::Invalid(format!(
                "'{rel}' is not a relative object path"
            )));
        }
        p = p.join(part);
    }
    Ok(p)
}

fn local_path(root: &Path, storage_path: &str, rel: &str) -> Result<PathBuf> {
    let joined = Path::new(storage_path).join(rel);
    if !joined
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(MediaStoreError::Invalid(format!(
            "'{storage_path}/{rel}' is not a relative path"
        )));
    }
    Ok(root.join(joined))
}

fn reserve(buf: &mut Vec<u8>, size: u64, headroom: usize, what: &str) -> Result<()> {
    let want = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_add(headroom);
    buf.try_reserve(want)
        .map_err(|_| MediaStoreError::TooLarge {
            what: what.to_owned(),
            size,
        })
}

/// Files below `root` as `/`-separated relative paths.
fn walk(root: &Path) -> Result<Vec<String>> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io(&path, e))?;
            if kind.is_dir() {
                go(root, &path, out)?;
            } else if kind.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .map_err(|e| MediaStoreError::Invalid(e.to_string()))?;
                let parts: Option<Vec<&str>> =
                    rel.components().map(|c| c.as_os_str().to_str()).collect();
                let parts = parts.ok_or_else(|| {
                    MediaStoreError::Invalid(format!("{}: not UTF-8", path.display()))
                })?;
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn scrub(mut text: String, secrets: &[String]) -> String {
    for s in secrets {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), "[redacted]");
        }
    }
    text
}

async fn remove_dir_quietly(p: &Path) {
    if let Err(e) = tokio::fs::remove_dir_all(p).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %p.display(), error = %e, "could not remove");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn stage(store: &MediaStore, name: &str, segment: &[u8]) -> PathBuf {
        let dir = store.staging_dir(name);
        std::fs::create_dir_all(dir.join("video_1")).unwrap();
        std::fs::write(dir.join("video_1/init.mp4"), b"init").unwrap();
        std::fs::write(dir.join("video_1/1.m4s"), segment).unwrap();
        std::fs::write(dir.join(INDEX_OBJECT), b"{}").unwrap();
        dir
    }

    async fn keys(mem: &InMemory) -> Vec<String> {
        let mut k: Vec<String> = mem
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        k.sort();
        k
    }

    /// A refused publish still consumes the staging folder: a name the
    /// store refuses left `assets/.upload-<uuid>` behind on every try.
    #[tokio::test]
    async fn refused_publish_removes_the_staging_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let store = MediaStore::local(tmp.path());
        for bad in [".", "..", ".hidden"] {
            let staged = stage(&store, bad, b"x");
            assert!(store.publish(bad, &staged).await.is_err(), "{bad}");
            assert!(!staged.exists(), "{bad}: staging left behind");
        }
    }

    #[tokio::test]
    async fn object_generations_publish_read_retire_and_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let mem = Arc::new(InMemory::new());
        let store = MediaStore::object(
            mem.clone(),
            "pre/fix",
            tmp.path(),
            Duration::from_millis(50),
        )
        .unwrap();
        let staged = stage(&store, "movie", b"first");
        let first = store.publish("movie", &staged).await.unwrap();
        assert!(!staged.exists(), "staging is consumed");
        let gen1 = first.storage_path().to_owned();
        assert!(gen1.starts_with("assets/movie/"));
        first.commit(None).await;
        let mut buf = Vec::new();
        let st = store
            .read_into(&gen1, "video_1/1.m4s", &mut buf, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(buf, b"first");
        assert!(buf.capacity() >= 105, "headroom reserved");
        assert_eq!(st.size, 5);
        assert!(store.head(&gen1, INDEX_OBJECT).await.unwrap().is_some());
        assert!(
            store
                .read_into(&gen1, "video_1/2.m4s", &mut buf, 0)
                .await
                .unwrap()
                .is_none()
        );

        // A re-upload is a new generation; the old one goes after the delay.
        let second = store
            .publish("movie", &stage(&store, "movie", b"second"))
            .await
            .unwrap();
        let gen2 = second.storage_path().to_owned();
        assert_ne!(gen1, gen2);
        second.commit(Some(&gen1)).await;
        assert!(
            store.head(&gen1, INDEX_OBJECT).await.unwrap().is_some(),
            "still readable"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            store.head(&gen1, INDEX_OBJECT).await.unwrap().is_none(),
            "retired"
        );
        assert_eq!(
            keys(&mem).await,
            ["index.json", "video_1/1.m4s", "video_1/init.mp4"]
                .map(|k| format!("pre/fix/{gen2}/{k}"))
        );

        // A rollback leaves nothing; remove takes every generation.
        let third = store
            .publish("movie", &stage(&store, "movie", b"third"))
            .await
            .unwrap();
        third.rollback().await;
        assert_eq!(keys(&mem).await.len(), 3);
        store.remove("movie").await.unwrap();
        assert!(keys(&mem).await.is_empty());
    }

    #[tokio::test]
    async fn local_publish_swaps_folders_and_rolls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let store = MediaStore::local(tmp.path());
        let p = store
            .publish("movie", &stage(&store, "movie", b"one"))
            .await
            .unwrap();
        assert_eq!(p.storage_path(), "assets/movie");
        p.commit(None).await;
        let p = store
            .publish("movie", &stage(&store, "movie", b"two"))
            .await
            .unwrap();
        p.rollback().await;
        let mut buf = Vec::new();
        store
            .read_into("assets/movie", "video_1/1.m4s", &mut buf, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(buf, b"one", "rollback restores the old folder");
        store.remove("movie").await.unwrap();
        assert!(!tmp.path().join("assets/movie").exists());
    }

    #[test]
    fn urls_and_scrubbing() {
        let d = Path::new("/data");
        let vars = || {
            [
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE123"),
                ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-xyz"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
                ("AWS_ALLOW_HTTP", "true"),
                ("HOME", "/root"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        let s = MediaStore::from_url_with("s3://bucket/a/b/", d, vars()).unwrap();
        assert_eq!(s.describe(), "s3://bucket/a/b");
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("s3cr3t") && !dbg.contains("AKIDEXAMPLE"),
            "{dbg}"
        );
        assert_eq!(
            scrub(
                "bad AKIDEXAMPLE123 and s3cr3t-value-xyz".into(),
                &["AKIDEXAMPLE123".into(), "s3cr3t-value-xyz".into()]
            ),
            "bad [redacted] and [redacted]"
        );
        let local = MediaStore::from_url_with("file:///srv/media", d, vars()).unwrap();
        assert_eq!(local.local_root(), Some(Path::new("/srv/media")));
        for bad in [
            "s3://user:pass@bucket/x",
            "gs://bucket",
            "s3://bucket/x?y=1",
            "s3:///x",
            "s3://bucket/a//b",
            "nonsense",
        ] {
            let e = MediaStore::from_url_with(bad, d, vars())
                .unwrap_err()
                .to_string();
            assert!(!e.contains("user:pass"), "{e}");
        }
        assert!(
            check_name("../x").is_err()
                && check_name("a/b").is_err()
                && check_name(".").is_err()
                && check_name(".upload-1").is_err()
                && check_name("movie").is_ok()
        );
    }
}
