//! `castguard serve`: one process that serves the whole HTTP surface
//! (DESIGN.md, "URLs") from a data directory.
//!
//! Start-up, in order: the data directory (created 0700); the
//! key-encryption key (`store::Kek::load_or_create`: `CASTGUARD_KEK`,
//! `CASTGUARD_KEK_FILE` or `DATA_DIR/kek.key`, generated on a fresh install
//! and announced once); the SQLite store; the admin token
//! (`CASTGUARD_ADMIN_TOKEN`, else `DATA_DIR/admin.token`, generated 0600 at
//! first start and printed once); the media store (`--media-url`, default
//! local files in `DATA_DIR/assets/`); then [`server::app`] on `--listen`. The
//! bound address is printed as `castguard: listening on http://ADDR` (with
//! `--listen 127.0.0.1:0` the OS picks a free port; tests read it there).
//! Ctrl-C or SIGTERM stops accepting, lets requests in flight finish, and
//! closes the store (checkpointing the SQLite WAL).
//!
//! Later parts (origin, key delivery, STS, player, demo content) join
//! through `server::app`, which owns the router; this file only wires
//! configuration.

use crate::Failure;
use anyhow::Context as _;
use server::{AdminToken, AppState};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Environment variable with the admin token.
pub const ADMIN_TOKEN_ENV: &str = "CASTGUARD_ADMIN_TOKEN";
/// File in the data directory holding a generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory: database, key-encryption key, admin token, assets.
    #[arg(long, env = "CASTGUARD_DATA", default_value = "./castguard-data")]
    data: PathBuf,
    /// Do not create or offer the demo (clip, policy, locators, demo tokens):
    /// for production, and for tests that want an empty store.
    #[arg(long, env = "CASTGUARD_NO_DEMO")]
    no_demo: bool,
    /// Where asset media live: `s3://bucket/prefix` for S3-compatible object
    /// storage shared by many nodes (endpoint, region and credentials from
    /// the standard AWS_* variables: AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP=true for a
    /// plain-HTTP endpoint), or `file:///path`. Default: DATA_DIR/assets/.
    #[arg(long, env = "CASTGUARD_MEDIA_URL")]
    media_url: Option<String>,
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args)).map_err(Failure::from)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let data = &args.data;
    create_private_dir(data)?;
    let (kek, origin) = store::Kek::load_or_create(data).context("key-encryption key")?;
    if let store::KekOrigin::Created(path) = &origin {
        eprintln!(
            "castguard: created a new key-encryption key at {} (mode 0600). Back it up: without it the stored content keys cannot be read.",
            path.display()
        );
    }
    let store = store::SqliteStore::open(data, kek)
        .await
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    let store: Arc<dyn store::Store> = Arc::new(store);
    let token = admin_token(data)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr().context("listening socket")?;
    let media = match &args.media_url {
        Some(url) => store::MediaStore::from_url(url, data).context("--media-url")?,
        None => store::MediaStore::local(data),
    };
    eprintln!("castguard: media in {}", media.describe());
    let state = AppState::with_media(
        store.clone(),
        data.clone(),
        token,
        server::delivery::DeliveryConfig::for_listen_addr(addr),
        media,
    );
    let player = if args.no_demo {
        eprintln!("castguard: listening on http://{addr}");
        eprintln!("castguard: player: http://{addr}/player (no demo)");
        server::routes::player::PlayerState::without_demo(Default::default())
    } else {
        let demo = crate::demo::ensure_demo(&state, data).await.context("demo")?;
        eprintln!("castguard: listening on http://{addr}");
        eprintln!("castguard: player: {}", demo.player_url);
        eprintln!("castguard: entitled demo token: {}", demo.entitled_token);
        eprintln!("castguard: outsider demo token: {}", demo.outsider_token);
        demo.player.clone()
    };
    let _ = std::io::stderr().flush();
    server::serve_with_player(listener, state, player, shutdown_signal())
        .await
        .context("server failed")?;
    store.close().await;
    eprintln!("castguard: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("castguard: shutting down");
}

/// The admin token: the environment's, else the saved one, else a new one
/// that is saved (0600) and printed once.
fn admin_token(data: &Path) -> anyhow::Result<AdminToken> {
    if let Ok(t) = std::env::var(ADMIN_TOKEN_ENV) {
        return AdminToken::new(t).map_err(|e| anyhow::anyhow!("{ADMIN_TOKEN_ENV}: {e}"));
    }
    let path = data.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(saved) => {
            let saved = Zeroizing::new(saved);
            return AdminToken::new(saved.trim().to_string())
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let token = AdminToken::generate()
        .map_err(|e| anyhow::anyhow!("no random bytes for the admin token: {e}"))?;
    write_private_file(&path, token.expose().as_bytes())?;
    eprintln!(
        "castguard: generated an admin token (saved to {}, mode 0600; shown only now):\n{}",
        path.display(),
        token.expose()
    );
    Ok(token)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
