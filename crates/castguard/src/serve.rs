//! `castguard serve`: one process that serves the whole HTTP surface
//! (DESIGN.md, "URLs") from a data directory.
//!
//! Start-up, in order: the data directory (created 0700); the
//! key-encryption key (`store::Kek::load_or_create`: `CASTGUARD_KEK`,
//! `CASTGUARD_KEK_FILE` or `DATA_DIR/kek.key`, generated on a fresh install
//! and announced once); the store (`--database-url`: SQLite in the data
//! directory by default, or Postgres shared by several nodes, issue 7;
//! every node then needs the same KEK, e.g. `CASTGUARD_KEK`); Redis when
//! `--redis-url` / `CASTGUARD_REDIS_URL` is given (replay counters and the
//! OpenID Connect document cache shared by many nodes); the admin token
//! (`CASTGUARD_ADMIN_TOKEN`, else `DATA_DIR/admin.token`, generated 0600 at
//! first start and printed once); then [`server::app`] on `--listen`. The
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
    /// Database: `postgres://user:password@host/db` for a store shared by
    /// several nodes; empty or `sqlite:` for SQLite in --data (default).
    #[arg(
        long,
        env = "CASTGUARD_DATABASE_URL",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    database_url: String,
    /// Do not create or offer the demo (clip, policy, locators, demo tokens):
    /// for production, and for tests that want an empty store.
    #[arg(long, env = "CASTGUARD_NO_DEMO")]
    no_demo: bool,
    /// Redis shared by several nodes, `redis://[user:password@]host:port[/db]`:
    /// holds the `maxuses` replay counters (else they stay in the database)
    /// and caches OpenID Connect documents for all nodes.
    #[arg(long, env = "CASTGUARD_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
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
    let store = store::open(&args.database_url, data, kek)
        .await
        .with_context(|| match args.database_url.as_str() {
            "" => format!("cannot open the store in {}", data.display()),
            _ => "cannot open the store".to_owned(),
        })?;
    let token = admin_token(data)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr().context("listening socket")?;
    let backends = match args.redis_url.as_deref() {
        Some(url) => redis_backends(url).await?,
        None => server::Backends::default(),
    };
    let state = AppState::with_backends(
        store.clone(),
        data.clone(),
        token,
        server::delivery::DeliveryConfig::for_listen_addr(addr),
        backends,
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

/// Replay counters and the OpenID Connect document cache in the Redis at
/// `url`. A Redis that does not answer yet is no reason to stay down: key
/// requests with `maxuses` tokens answer 503 and `/readyz` says so until
/// it does.
async fn redis_backends(url: &str) -> anyhow::Result<server::Backends> {
    let redis = store::redis::Redis::open(url).context("--redis-url")?;
    match redis.ping().await {
        Ok(()) => eprintln!(
            "castguard: replay counters and OpenID Connect cache in Redis at {}",
            redis.display()
        ),
        Err(e) => eprintln!(
            "castguard: warning: {e}; key requests with maxuses tokens answer 503 until Redis answers"
        ),
    }
    let direct = keys::token::ReqwestFetcher::new().context("HTTP client for OpenID Connect")?;
    Ok(server::Backends {
        token_uses: Some(Arc::new(store::redis::RedisTokenUses::new(redis.clone()))),
        oidc_fetcher: Some(Arc::new(store::redis::RedisFetchCache::new(
            redis,
            Arc::new(direct),
            store::redis::DEFAULT_DOCUMENT_TTL,
        ))),
    })
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
