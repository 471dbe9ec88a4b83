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
//! first start and printed once); the media store (`--media-url`, default
//! local files in `DATA_DIR/assets/`); then [`server::app`] on `--listen`. The
//! bound address is printed as `castguard: listening on http://ADDR` (with
//! `--listen 127.0.0.1:0` the OS picks a free port; tests read it there).
//! With `--tls-cert`/`--tls-key`, `--listen` serves HTTPS instead, or, with
//! `--tls-listen`, a second `listening on https://ADDR` line follows the
//! plain one; the certificate and key are checked before anything is
//! created on disk, and read again on SIGHUP or when they change
//! (`--tls-reload-interval`, `server::tls::CertFiles`). The key-delivery
//! guard (`--keys-require-https`, forwarding headers, rate limits) is
//! `server::delivery::guard`.
//! Prometheus metrics: `--metrics-listen ADDR` serves `/metrics` on a
//! separate listener (announced as `castguard: metrics on
//! http://ADDR/metrics`), `--metrics-token-file` opens `/metrics` on the
//! main port to that bearer token; without either, no metrics are served
//! (`server::metrics`).
//! Live ingest over RTMP: `--rtmp-listen ADDR` (off by default) takes
//! encoders' pushes on a listener of its own, announced as `castguard: RTMP
//! ingest on rtmp://HOST:PORT/live/{event}` (`server::live_rtmp`).
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
    /// The URL viewers reach this node by (a load balancer, a CDN, a
    /// reverse proxy: `https://media.example.com`, a path prefix allowed):
    /// the base of the license, key and STS URLs written into manifests and
    /// of the STS issuer. Default: this node's own listening address.
    #[arg(long, env = "CASTGUARD_PUBLIC_URL", value_parser = server::delivery::parse_public_url, value_name = "URL")]
    public_url: Option<String>,
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
    /// Hand demo tokens to any client; by default POST
    /// /player/api/demo-token answers loopback clients only (403 otherwise).
    #[arg(long, env = "CASTGUARD_DEMO_PUBLIC", conflicts_with = "no_demo")]
    demo_public: bool,
    /// Seconds between SIGTERM and closing the listener, during which
    /// `/readyz` answers 503 and everything else keeps serving: give the
    /// load balancer's health check this long to take the node out.
    #[arg(
        long,
        env = "CASTGUARD_DRAIN_DELAY",
        default_value_t = 0,
        value_name = "SECS"
    )]
    drain_delay: u64,
    /// Seconds the requests in flight get to finish once the listener is
    /// closed; then the process stops anyway.
    #[arg(
        long,
        env = "CASTGUARD_SHUTDOWN_TIMEOUT",
        default_value_t = 30,
        value_name = "SECS"
    )]
    shutdown_timeout: u64,

    // HTTPS, the key-delivery guard and rate limits (issue 8, items 2-3).
    /// PEM certificate chain (leaf first) for HTTPS; needs --tls-key.
    #[arg(
        long,
        env = "CASTGUARD_TLS_CERT",
        requires = "tls_key",
        help_heading = "HTTPS and limits"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(
        long,
        env = "CASTGUARD_TLS_KEY",
        requires = "tls_cert",
        help_heading = "HTTPS and limits"
    )]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS on this address and plain HTTP on --listen. Without it,
    /// a certificate makes --listen serve HTTPS only.
    #[arg(
        long,
        env = "CASTGUARD_TLS_LISTEN",
        requires = "tls_cert",
        help_heading = "HTTPS and limits"
    )]
    tls_listen: Option<SocketAddr>,
    /// Seconds between checks of --tls-cert and --tls-key for a change
    /// (modification time or size); a changed pair is loaded without a
    /// restart (0: only on SIGHUP). A broken pair is logged and the
    /// previous one stays in use.
    #[arg(
        long,
        env = "CASTGUARD_TLS_RELOAD_INTERVAL",
        default_value_t = 5,
        value_name = "SECS",
        requires = "tls_cert",
        help_heading = "HTTPS and limits"
    )]
    tls_reload_interval: u64,
    /// Refuse key delivery (/keys/v1/...) and /sts/token over plain HTTP
    /// (403 https_required).
    #[arg(
        long,
        env = "CASTGUARD_KEYS_REQUIRE_HTTPS",
        help_heading = "HTTPS and limits"
    )]
    keys_require_https: bool,
    /// Believe `X-Forwarded-Proto: https` (only from --trusted-proxy peers
    /// when any are given): for a TLS-terminating proxy in front.
    #[arg(
        long,
        env = "CASTGUARD_TRUST_FORWARDED_PROTO",
        help_heading = "HTTPS and limits"
    )]
    trust_forwarded_proto: bool,
    /// Build the URLs of a request's manifests on its `X-Forwarded-Host`
    /// (and `X-Forwarded-Proto`) when it comes from a --trusted-proxy peer:
    /// for a node reached under several names. Others get --public-url.
    #[arg(
        long,
        env = "CASTGUARD_TRUST_FORWARDED_HOST",
        requires = "trusted_proxies",
        help_heading = "HTTPS and limits"
    )]
    trust_forwarded_host: bool,
    /// Believe `X-Forwarded-For` from peers in this range (CIDR or address;
    /// repeat or separate with commas).
    #[arg(
        long = "trusted-proxy",
        env = "CASTGUARD_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = server::forwarded::parse_proxy,
        help_heading = "HTTPS and limits"
    )]
    trusted_proxies: Vec<server::forwarded::IpNet>,
    /// Key delivery and /sts/token requests per client address (IPv6: per
    /// /64): N/s, N/m or N/h, optionally ",burst=B", or "off". Off by
    /// default: many players can share one address (NAT, CDN).
    #[arg(long, env = "CASTGUARD_RATE_LIMIT_PER_IP", default_value = "off", value_parser = parse_rate, help_heading = "HTTPS and limits")]
    rate_limit_per_ip: RateSetting,
    /// Key delivery and /sts/token requests per bearer token, same syntax.
    /// A player needs a few per minute; load tests with one token need "off".
    #[arg(long, env = "CASTGUARD_RATE_LIMIT_PER_TOKEN", default_value = "20/s,burst=100", value_parser = parse_rate, help_heading = "HTTPS and limits")]
    rate_limit_per_token: RateSetting,
    /// Wrong admin tokens (on /api/v1 and /sts/token) allowed per client
    /// address, same syntax as the rate limits; beyond them the address gets
    /// 429 with Retry-After before its token is compared, or "off".
    #[arg(long, env = "CASTGUARD_ADMIN_AUTH_FAILURES", default_value = "10/m,burst=10", value_parser = parse_rate, help_heading = "HTTPS and limits")]
    admin_auth_failures: RateSetting,
    /// Seconds a request body may stall once it is being read, and the grace
    /// period before --request-body-min-rate applies; then 408 and the
    /// connection closes (slow-body attacks).
    #[arg(long, env = "CASTGUARD_REQUEST_BODY_TIMEOUT", default_value_t = server::limits::DEFAULT_BODY_TIMEOUT.as_secs(), value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = "HTTPS and limits")]
    request_body_timeout: u64,
    /// Slowest average request body rate after the grace period, in bytes
    /// per second (0: none); a trickle below it gets 408.
    #[arg(long, env = "CASTGUARD_REQUEST_BODY_MIN_RATE", default_value_t = server::limits::DEFAULT_BODY_MIN_RATE, value_name = "BYTES", help_heading = "HTTPS and limits")]
    request_body_min_rate: u64,
    /// Most open connections from one client address (IPv6: per /64); more
    /// are refused at once (0: no cap). Behind a proxy every client has the
    /// proxy's address: raise it there.
    #[arg(long, env = "CASTGUARD_MAX_CONNECTIONS_PER_IP", default_value_t = server::limits::DEFAULT_MAX_CONNECTIONS_PER_IP, value_name = "N", help_heading = "HTTPS and limits")]
    max_connections_per_ip: usize,
    /// Most open connections in all; more are refused at once (0: no cap).
    /// Keep it below the process's file descriptor limit.
    #[arg(long, env = "CASTGUARD_MAX_CONNECTIONS", default_value_t = server::limits::DEFAULT_MAX_CONNECTIONS, value_name = "N", help_heading = "HTTPS and limits")]
    max_connections: usize,
    /// Largest live ingest fragment (`moof` + `mdat`) or stream header, in
    /// bytes; a larger one is refused with 413 from its box header, before
    /// its body is read, and nothing of it is stored.
    #[arg(long, env = "CASTGUARD_LIVE_MAX_FRAGMENT", default_value_t = media::live::DEFAULT_MAX_FRAGMENT, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1024..), help_heading = "HTTPS and limits")]
    live_max_fragment: u64,
    /// MiB of encrypted media segments the origin keeps in memory, so a
    /// segment many viewers ask for (a live edge, a new release) is
    /// encrypted once; 0 encrypts every request. Shared by every locator
    /// (docs/operations.md, "Origin segment cache").
    #[arg(long, env = "CASTGUARD_ORIGIN_CACHE_MB", default_value_t = server::delivery::segment_cache::DEFAULT_CACHE_MB, value_name = "MIB", value_parser = clap::value_parser!(u64).range(0..=1 << 20), help_heading = "HTTPS and limits")]
    origin_cache_mb: u64,
    /// Allow OpenID Connect discovery and key set fetches over plain http
    /// to HOST (and to HOST even at a link-local or metadata address);
    /// otherwise https only. Repeat or separate with commas.
    #[arg(long = "allow-http-fetch", env = "CASTGUARD_ALLOW_HTTP_FETCH", value_delimiter = ',', value_name = "HOST", help_heading = "HTTPS and limits")]
    allow_http_fetch: Vec<String>,
    /// Accept a key set (jwks_uri) on HOST although the discovery document
    /// is on another host (e.g. www.googleapis.com for accounts.google.com);
    /// otherwise only the document's own host. Repeat or separate with commas.
    #[arg(long = "allow-jwks-host", env = "CASTGUARD_ALLOW_JWKS_HOST", value_delimiter = ',', value_name = "HOST", help_heading = "HTTPS and limits")]
    allow_jwks_host: Vec<String>,
    /// Redis shared by several nodes, `redis://[user:password@]host:port[/db]`:
    /// holds the `maxuses` replay counters (else they stay in the database)
    /// and caches OpenID Connect documents for all nodes.
    #[arg(long, env = "CASTGUARD_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// Where asset media live: `s3://bucket/prefix` for S3-compatible object
    /// storage shared by many nodes (endpoint, region and credentials from
    /// the standard AWS_* variables: AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ALLOW_HTTP=true for a
    /// plain-HTTP endpoint), or `file:///path`. Default: DATA_DIR/assets/.
    #[arg(long, env = "CASTGUARD_MEDIA_URL")]
    media_url: Option<String>,

    // Prometheus metrics (docs/operations.md).
    /// Serve Prometheus metrics at http://ADDR/metrics on this separate
    /// listener, without a token: bind it to a loopback or private address.
    #[arg(
        long,
        env = "CASTGUARD_METRICS_LISTEN",
        value_name = "ADDR",
        help_heading = "Metrics"
    )]
    metrics_listen: Option<SocketAddr>,
    /// File with a bearer token (16 or more printable characters) that opens
    /// GET /metrics on the main port(s); without it that route answers 404.
    #[arg(
        long,
        env = "CASTGUARD_METRICS_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Metrics"
    )]
    metrics_token_file: Option<PathBuf>,

    // SPEKE v2 key provider (docs/speke.md).
    /// Turn on the SPEKE v2 key provider, POST /speke/v2, for encryptors
    /// such as AWS Elemental MediaPackage: the keys it makes are bound to
    /// this content key policy, under which players get their licenses.
    /// Needs --speke-token-file or --speke-basic-auth-file.
    #[arg(
        long,
        env = "CASTGUARD_SPEKE_POLICY",
        value_name = "NAME",
        help_heading = "SPEKE key provider"
    )]
    speke_policy: Option<String>,
    /// File with the bearer token (16 or more printable characters) that
    /// encryptors send to /speke/v2.
    #[arg(
        long,
        env = "CASTGUARD_SPEKE_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "SPEKE key provider"
    )]
    speke_token_file: Option<PathBuf>,
    /// File with `user:password` (16 or more printable characters in all)
    /// that encryptors send to /speke/v2 as HTTP Basic credentials.
    #[arg(
        long,
        env = "CASTGUARD_SPEKE_BASIC_AUTH_FILE",
        value_name = "FILE",
        help_heading = "SPEKE key provider"
    )]
    speke_basic_auth_file: Option<PathBuf>,

    // Live ingest (docs/live.md).
    /// Take RTMP pushes (OBS, ffmpeg -f flv) on this address, e.g.
    /// 0.0.0.0:1935: live events with streamingProtocol RTMP then show
    /// rtmp://HOST:PORT/live/{event} (HOST from --public-url). Off by default.
    #[arg(
        long,
        env = "CASTGUARD_RTMP_LISTEN",
        value_name = "ADDR",
        help_heading = "Live ingest"
    )]
    rtmp_listen: Option<SocketAddr>,
}

/// A rate limit setting (`off` = `None`).
#[derive(Clone, Copy)]
struct RateSetting(Option<server::limits::Rate>);

fn parse_rate(s: &str) -> Result<RateSetting, String> {
    server::limits::Rate::parse_setting(s)
        .map(RateSetting)
        .map_err(|e| e.to_string())
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let repeats = init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        // One summary of the suppressed repeated lines per interval.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(crate::log_limit::INTERVAL);
            loop {
                tick.tick().await;
                repeats.flush();
            }
        });
        serve(args).await
    })
    .map_err(Failure::from)
}

/// stderr logging, `RUST_LOG` or `info,sqlx=warn`, with repeated lines
/// limited ([`crate::log_limit`]); the limiter, for its periodic flush.
fn init_logging() -> crate::log_limit::RepeatLimit {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let repeats = crate::log_limit::RepeatLimit::default();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(repeats.clone())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Plain lines when stderr is a file or a pipe (log collectors, grep).
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
    repeats
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Configuration errors first, before anything is created on disk.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server::tls::CertFiles::load(cert, key)?),
        _ => None,
    };
    let guard = guard_config(&args)?;
    let metrics_token = args
        .metrics_token_file
        .as_deref()
        .map(metrics_token)
        .transpose()?;
    let speke = speke_config(&args)?;
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
    let tls_config = tls.as_ref().map(|t| t.server_config()).transpose()?;
    let listeners = listeners(&args, tls_config).await?;
    reload_certificates(tls, args.tls_reload_interval)?;
    // Manifests point players at HTTPS whenever it is served.
    let public = listeners
        .iter()
        .find(|l| l.is_tls())
        .unwrap_or(&listeners[0]);
    let own_url = public.url().context("listening socket")?;
    let public_url = match &args.public_url {
        Some(u) => u.clone(),
        None => {
            if public.local_addr().is_ok_and(|a| a.ip().is_unspecified()) {
                eprintln!(
                    "castguard: warning: listening on every address without --public-url: manifests will name {own_url}, which no viewer can reach; set --public-url to the URL viewers use"
                );
            }
            own_url.clone()
        }
    };
    let mut config = server::delivery::DeliveryConfig::for_listen_addr(
        public.local_addr().context("listening socket")?,
    );
    config.public_base_url = public_url.clone();
    config.guard = guard;
    config.fetch = fetch_policy(&args);
    config.segment_cache_bytes = args.origin_cache_mb << 20;
    let mut backends = match args.redis_url.as_deref() {
        Some(url) => redis_backends(url, fetch_policy(&args)).await?,
        None => server::Backends::default(),
    };
    let media = match &args.media_url {
        Some(url) => store::MediaStore::from_url(url, data).context("--media-url")?,
        None => store::MediaStore::local(data),
    };
    eprintln!("castguard: media in {}", media.describe());
    backends.media = Some(media);
    let state = AppState::with_backends(store.clone(), data.clone(), token, config, backends);
    state.set_live_max_fragment(args.live_max_fragment);
    if let Some(t) = metrics_token {
        state.set_metrics_token(t);
    }
    if let Some(c) = speke {
        if store.get_content_key_policy(&c.policy).await.is_err() {
            eprintln!(
                "castguard: warning: --speke-policy {}: no such content key policy yet; /speke/v2 answers 500 until it exists",
                c.policy
            );
        }
        eprintln!("castguard: SPEKE v2 key provider on /speke/v2 (policy {})", c.policy);
        state.set_speke(c);
    }
    let metrics_listener = match args.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics-listen: cannot listen on {addr}"))?,
        ),
        None => None,
    };
    let rtmp_listener = match args.rtmp_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--rtmp-listen: cannot listen on {addr}"))?;
            let bound = l.local_addr().context("RTMP socket")?;
            state.set_rtmp_base(server::live_rtmp::public_base(&public_url, bound));
            Some(l)
        }
        None => None,
    };
    let announce = || -> anyhow::Result<()> {
        for l in &listeners {
            eprintln!(
                "castguard: listening on {}",
                l.url().context("listening socket")?
            );
        }
        if let Some(base) = rtmp_listener.as_ref().and(state.rtmp_base()) {
            eprintln!("castguard: RTMP ingest on {base}/{{event}}");
        }
        if let Some(l) = &metrics_listener {
            eprintln!(
                "castguard: metrics on http://{}/metrics",
                l.local_addr().context("metrics socket")?
            );
        }
        Ok(())
    };
    let player = if args.no_demo {
        announce()?;
        eprintln!("castguard: player: {public_url}/player (no demo)");
        server::routes::player::PlayerState::without_demo(Default::default())
    } else {
        let demo = crate::demo::ensure_demo(&state, data)
            .await
            .context("demo")?;
        announce()?;
        eprintln!("castguard: player: {}", demo.player_url);
        eprintln!("castguard: entitled demo token: {}", demo.entitled_token);
        eprintln!("castguard: outsider demo token: {}", demo.outsider_token);
        eprintln!(
            "castguard: the demo is on: POST /player/api/demo-token hands EntitledUsers tokens for the demo audience to {}, and /readyz says 'demo: on'. Start with --no-demo to turn it off (production).",
            if args.demo_public {
                "any client (--demo-public)"
            } else {
                "clients on this machine (loopback)"
            }
        );
        demo.player.clone().demo_public(args.demo_public)
    };
    let _ = std::io::stderr().flush();
    // Graceful shutdown: on SIGTERM/Ctrl-C mark the node draining
    // (`/readyz` 503), wait `--drain-delay`, close the listener, let the
    // requests in flight finish for at most `--shutdown-timeout`.
    let closed = Arc::new(tokio::sync::Notify::new());
    let shutdown = {
        let state = state.clone();
        let closed = closed.clone();
        let delay = std::time::Duration::from_secs(args.drain_delay);
        async move {
            shutdown_signal().await;
            state.start_draining();
            if !delay.is_zero() {
                eprintln!(
                    "castguard: draining: /readyz answers 503 for {} s, then the listener closes",
                    delay.as_secs()
                );
                tokio::time::sleep(delay).await;
            }
            closed.notify_one();
        }
    };
    let timeout = std::time::Duration::from_secs(args.shutdown_timeout);
    // The metrics listener serves until the main listeners are done, so
    // a drain can be watched to its end.
    let (metrics_stop, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_task = metrics_listener.map(|l| {
        tokio::spawn(server::serve_listeners(
            vec![server::Listener::plain(l)],
            server::metrics::router(state.clone()),
            server::HttpLimits::default(),
            async move {
                let _ = metrics_stopped.await;
            },
        ))
    });
    // RTMP ingest serves until the main listeners are done.
    let (rtmp_stop, rtmp_stopped) = tokio::sync::oneshot::channel::<()>();
    let rtmp_task = rtmp_listener.map(|l| {
        tokio::spawn(server::live_rtmp::serve(l, state.clone(), async move {
            let _ = rtmp_stopped.await;
        }))
    });
    let metrics = state.metrics().clone();
    let serving = server::serve_listeners_metered(
        listeners,
        server::app_with_player(state, player),
        http_limits(&args),
        Some(metrics),
        shutdown,
    );
    tokio::select! {
        r = serving => r.context("server failed")?,
        _ = async { closed.notified().await; tokio::time::sleep(timeout).await } => {
            eprintln!(
                "castguard: requests still in flight after {} s; stopping anyway",
                timeout.as_secs()
            );
        }
    }
    drop(metrics_stop);
    drop(rtmp_stop);
    if let Some(t) = rtmp_task {
        let _ = t.await;
    }
    if let Some(t) = metrics_task {
        let _ = t.await;
    }
    store.close().await;
    eprintln!("castguard: stopped");
    Ok(())
}

/// The listening sockets: plain HTTP on --listen (HTTPS instead when a
/// certificate is given without --tls-listen), HTTPS on --tls-listen.
async fn listeners(
    args: &ServeArgs,
    tls: Option<Arc<server::tls::ServerConfig>>,
) -> anyhow::Result<Vec<server::Listener>> {
    let bind = |addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))
    };
    let main = bind(args.listen).await?;
    Ok(match (tls, args.tls_listen) {
        (None, _) => vec![server::Listener::plain(main)],
        (Some(tls), None) => vec![server::Listener::tls(main, tls)],
        (Some(tls), Some(addr)) => vec![
            server::Listener::plain(main),
            server::Listener::tls(bind(addr).await?, tls),
        ],
    })
}

fn fetch_policy(args: &ServeArgs) -> keys::http::FetchPolicy {
    keys::http::FetchPolicy::new(&args.allow_http_fetch, &args.allow_jwks_host)
}

fn http_limits(args: &ServeArgs) -> server::HttpLimits {
    server::HttpLimits {
        body_timeout: std::time::Duration::from_secs(args.request_body_timeout),
        body_min_rate: args.request_body_min_rate,
        max_connections_per_ip: args.max_connections_per_ip,
        max_connections: args.max_connections,
        ..server::HttpLimits::default()
    }
}

fn guard_config(args: &ServeArgs) -> anyhow::Result<server::delivery::guard::GuardConfig> {
    if args.keys_require_https && args.tls_cert.is_none() && !args.trust_forwarded_proto {
        anyhow::bail!(
            "--keys-require-https needs HTTPS: --tls-cert and --tls-key, or --trust-forwarded-proto behind a TLS-terminating proxy"
        );
    }
    Ok(server::delivery::guard::GuardConfig {
        require_https: args.keys_require_https,
        forwarded: server::forwarded::ForwardedTrust {
            proxies: args.trusted_proxies.clone(),
            proto: args.trust_forwarded_proto,
            host: args.trust_forwarded_host,
        },
        per_ip: args.rate_limit_per_ip.0,
        per_token: args.rate_limit_per_token.0,
        capacity: 0,
        admin_auth_failures: args.admin_auth_failures.0,
    })
}

/// Replay counters and the OpenID Connect document cache in the Redis at
/// `url`. A Redis that does not answer yet is no reason to stay down: key
/// requests with `maxuses` tokens answer 503 and `/readyz` says so until
/// it does.
async fn redis_backends(
    url: &str,
    fetch: keys::http::FetchPolicy,
) -> anyhow::Result<server::Backends> {
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
    let direct = keys::token::ReqwestFetcher::with_policy(fetch)
        .context("HTTP client for OpenID Connect")?;
    Ok(server::Backends {
        token_uses: Some(Arc::new(store::redis::RedisTokenUses::new(redis.clone()))),
        oidc_fetcher: Some(Arc::new(store::redis::RedisFetchCache::new(
            redis.clone(),
            Arc::new(direct),
            store::redis::DEFAULT_DOCUMENT_TTL,
        ))),
        media: None,
        redis: Some(redis),
    })
}

/// Certificate renewal without a restart: `files` read again on SIGHUP
/// and, every `interval_secs` (0: never), when they changed. SIGHUP is
/// taken over from here on, with or without TLS: it never stops the
/// server.
fn reload_certificates(
    files: Option<Arc<server::tls::CertFiles>>,
    interval_secs: u64,
) -> anyhow::Result<()> {
    use server::tls::ReloadCause;
    if let Some(files) = files.clone().filter(|_| interval_secs > 0) {
        tokio::spawn(files.poll(std::time::Duration::from_secs(interval_secs)));
    }
    #[cfg(unix)]
    {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot handle SIGHUP")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match &files {
                    Some(files) => files.reload_logged(ReloadCause::Signal),
                    None => tracing::info!("SIGHUP: no TLS certificate to reload"),
                }
            }
        });
    }
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

/// The metrics bearer token in `path` (surrounding whitespace ignored).
fn metrics_token(path: &Path) -> anyhow::Result<AdminToken> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("--metrics-token-file: cannot read {}", path.display()))?,
    );
    AdminToken::new(text.trim().to_string())
        .map_err(|e| anyhow::anyhow!("--metrics-token-file {}: {e}", path.display()))
}

/// The SPEKE key provider's settings: a policy and at least one
/// credential, or nothing.
fn speke_config(args: &ServeArgs) -> anyhow::Result<Option<server::routes::speke::SpekeConfig>> {
    let secret = |flag: &str, path: &Path| -> anyhow::Result<AdminToken> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("--{flag}: cannot read {}", path.display()))?,
        );
        AdminToken::new(text.trim().to_string())
            .map_err(|e| anyhow::anyhow!("--{flag} {}: {e}", path.display()))
    };
    let bearer = args
        .speke_token_file
        .as_deref()
        .map(|p| secret("speke-token-file", p))
        .transpose()?;
    let basic = args
        .speke_basic_auth_file
        .as_deref()
        .map(|p| secret("speke-basic-auth-file", p))
        .transpose()?;
    if let Some(b) = &basic
        && !b.expose().contains(':')
    {
        anyhow::bail!("--speke-basic-auth-file: the file must hold user:password");
    }
    let Some(policy) = args.speke_policy.clone() else {
        if bearer.is_some() || basic.is_some() {
            anyhow::bail!("--speke-token-file and --speke-basic-auth-file need --speke-policy");
        }
        return Ok(None);
    };
    keys::model::validate_name("--speke-policy", &policy).map_err(|e| anyhow::anyhow!("{e}"))?;
    if bearer.is_none() && basic.is_none() {
        anyhow::bail!(
            "--speke-policy needs --speke-token-file or --speke-basic-auth-file: /speke/v2 hands out content keys"
        );
    }
    Ok(Some(server::routes::speke::SpekeConfig {
        policy,
        bearer,
        basic,
    }))
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
