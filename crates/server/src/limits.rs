//! Request limits: token-bucket rate limits on key delivery and the token
//! service, the size limits of request heads and bodies, the time limits
//! of request bodies, and the caps on open connections.
//!
//! Rate limits answer 429 with `Retry-After` in seconds (RFC 6585 §4,
//! RFC 9110 §10.2.3). Two keys, each with its own bucket set: the client
//! address (IPv6 by its /64, since one subscriber usually holds a whole
//! /64) and the bearer token. A token is keyed by the first 16 bytes of its
//! SHA-256, so the table holds no usable credential.
//!
//! A bucket holds up to `burst` tokens and refills at `per_second`; a
//! request takes one. Memory is bounded: each of the [`SHARDS`] maps holds
//! at most `capacity / SHARDS` buckets. When one is full, buckets that
//! have refilled completely are dropped first (they are the same as a new
//! one, so nothing is lost); if that is not enough (a flood from many
//! addresses), the least recently used quarter goes, which can only give
//! those clients a fresh burst, never refuse anyone wrongly.
//!
//! Written here (about 100 lines) rather than with `governor`: what is
//! needed is a keyed bucket with a bounded table and a retry time, and
//! `governor` would bring `dashmap`, `quanta` and friends for it.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest request head (request line and headers) in bytes: beyond it
/// the connection answers 431 (RFC 6585 §5).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one request (431 beyond).
pub const MAX_HEADERS: usize = 100;
/// Largest Clear Key or DRM license request body (413 beyond): Widevine,
/// PlayReady and FairPlay challenges are a few KiB.
pub const LICENSE_BODY_LIMIT: usize = 64 * 1024;
/// Default rate of failed admin authentications allowed per client
/// address: ten wrong tokens, then one every six seconds.
pub const DEFAULT_ADMIN_AUTH_FAILURES: Rate = Rate {
    per_second: 10.0 / 60.0,
    burst: 10,
};
/// Buckets per limiter shard table.
pub const SHARDS: usize = 16;
/// Default total number of buckets of one limiter.
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Default longest wait for more of a request body, and the grace period
/// before [`DEFAULT_BODY_MIN_RATE`] applies.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default slowest average request body rate, bytes per second, once the
/// grace period is over: far below any real upload, far above a trickle
/// that only holds a connection open.
pub const DEFAULT_BODY_MIN_RATE: u64 = 1024;
/// Default most open connections from one client address (IPv6: its /64).
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;
/// Default most open connections in all.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default most concurrent streams on one HTTP/2 connection: RFC 9113
/// §6.5.2 advises no fewer than 100, and a player needs a handful.
pub const DEFAULT_H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Default interval of HTTP/2 keep-alive pings, and the time an answer may
/// take before the connection is dropped.
pub const DEFAULT_H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// Size and time limits of every connection.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Bytes of the request line and headers together.
    pub max_header_bytes: usize,
    /// Header fields per request.
    pub max_headers: usize,
    /// Time a client has to send a complete request head (slow clients
    /// holding connections open).
    pub header_read_timeout: Duration,
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Longest wait for the next bytes of a request body once a handler
    /// reads it; also the grace period before `body_min_rate` applies.
    /// Beyond it the request answers 408 and the connection closes.
    pub body_timeout: Duration,
    /// Slowest average body rate in bytes per second after the grace
    /// period (0: no rate, only `body_timeout` between bytes).
    pub body_min_rate: u64,
    /// Most open connections from one client address, IPv6 by its /64
    /// (0: no limit). Behind a proxy every client has the proxy's address.
    pub max_connections_per_ip: usize,
    /// Most open connections in all (0: no limit).
    pub max_connections: usize,
    /// Most concurrent streams (requests) on one HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 keep-alive: a ping this often, the connection dropped when
    /// the answer takes longer than this.
    pub h2_keep_alive: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_header_bytes: MAX_HEADER_BYTES,
            max_headers: MAX_HEADERS,
            header_read_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            h2_max_concurrent_streams: DEFAULT_H2_MAX_CONCURRENT_STREAMS,
            h2_keep_alive: DEFAULT_H2_KEEP_ALIVE,
        }
    }
}

/// Whether a request waiting for `100 Continue` declares a body larger
/// than `limit`: checked before a handler touches the body, so that it is
/// refused (413) without `100 Continue` ever going out (hyper answers
/// `100 Continue` only when the body is first read; RFC 9110 §10.1.1 lets
/// a server refuse instead), and the client never sends the body.
///
/// Without `Expect: 100-continue` the client sends its body anyway, and
/// answering before reading any of it makes the connection close with
/// unread data, which resets it under the client and can lose the 413
/// itself (seen with reqwest); such bodies are read up to the limit as
/// before, which bounds them just the same.
pub fn refuse_before_continue(headers: &axum::http::HeaderMap, limit: u64) -> bool {
    let expects_continue = headers
        .get(axum::http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    expects_continue
        && headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > limit)
}

/// Open connections, per client address and in all, within
/// [`HttpLimits::max_connections_per_ip`] and
/// [`HttpLimits::max_connections`]. A [`ConnectionPermit`] is held for the
/// life of each connection.
pub struct ConnectionLimiter {
    per_ip: usize,
    total: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRefusal {
    PerAddress,
    Total,
}

impl ConnectionLimiter {
    pub fn new(limits: &HttpLimits) -> std::sync::Arc<Self> {
        std::sync::Arc::new(ConnectionLimiter {
            per_ip: limits.max_connections_per_ip,
            total: limits.max_connections,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A permit for one more connection from `ip`, or why not.
    pub fn acquire(
        self: &std::sync::Arc<Self>,
        ip: IpAddr,
    ) -> Result<ConnectionPermit, ConnectionRefusal> {
        let key = address_key(ip);
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_ip) = &mut *g;
        if self.total > 0 && *total >= self.total {
            return Err(ConnectionRefusal::Total);
        }
        let n = per_ip.entry(key).or_insert(0);
        if self.per_ip > 0 && *n >= self.per_ip {
            return Err(ConnectionRefusal::PerAddress);
        }
        *n += 1;
        *total += 1;
        Ok(ConnectionPermit {
            limiter: self.clone(),
            key,
        })
    }

    /// Open connections in all.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

/// One open connection; released when dropped.
pub struct ConnectionPermit {
    limiter: std::sync::Arc<ConnectionLimiter>,
    key: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut g = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_ip) = &mut *g;
        *total = total.saturating_sub(1);
        if let Some(n) = per_ip.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.key);
            }
        }
    }
}

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "rate '{0}': expected N/s, N/m or N/h with N > 0, optionally ',burst=B' (e.g. 20/s,burst=40), or 'off'"
)]
pub struct RateParseError(String);

impl Rate {
    /// Parses `N/s`, `N/m` or `N/h`, optionally followed by `,burst=B`
    /// (default: one second's worth, at least 1); `off` is `None`.
    pub fn parse_setting(s: &str) -> Result<Option<Rate>, RateParseError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s == "0" {
            return Ok(None);
        }
        let err = || RateParseError(s.to_owned());
        let (rate, burst) = match s.split_once(',') {
            Some((r, b)) => {
                let b = b.trim().strip_prefix("burst=").ok_or_else(err)?;
                (r, Some(b.parse::<u32>().map_err(|_| err())?))
            }
            None => (s, None),
        };
        let (n, unit) = rate.trim().split_once('/').ok_or_else(err)?;
        let n: u32 = n.trim().parse().map_err(|_| err())?;
        let secs = match unit.trim() {
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        if n == 0 || burst == Some(0) {
            return Err(err());
        }
        let per_second = f64::from(n) / secs;
        let burst = burst.unwrap_or_else(|| (per_second.ceil() as u32).max(1));
        Ok(Some(Rate { per_second, burst }))
    }
}

/// The address key of a client: IPv4 whole, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// The table key of a bearer token: a digest, never the token.
pub fn token_key(token: &str) -> [u8; 16] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&d.as_ref()[..16]);
    k
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by `K`, bounded in number.
pub struct RateLimiter<K> {
    rate: Rate,
    shard_capacity: usize,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<K, Bucket>>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// At most about `capacity` buckets.
    pub fn new(rate: Rate, capacity: usize) -> Self {
        RateLimiter {
            rate,
            shard_capacity: (capacity / SHARDS).max(4),
            hasher: Default::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one token of `key`'s bucket at `now`; when it is empty, how
    /// long until one is back.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let shard = (self.hasher.hash_one(key) as usize) % SHARDS;
        let mut map = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        let burst = f64::from(self.rate.burst);
        if !map.contains_key(key) && map.len() >= self.shard_capacity {
            self.evict(&mut map, now);
        }
        let b = map.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate.per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - b.tokens) / self.rate.per_second,
            ))
        }
    }

    /// Whether `key` has a token left at `now` (without taking it); when
    /// not, how long until one is back.
    pub fn peek(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let shard = (self.hasher.hash_one(key) as usize) % SHARDS;
        let map = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = map.get(key) else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        let tokens = (b.tokens + elapsed * self.rate.per_second).min(f64::from(self.rate.burst));
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - tokens) / self.rate.per_second,
            ))
        }
    }

    fn evict(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        let refill = Duration::from_secs_f64(f64::from(self.rate.burst) / self.rate.per_second);
        map.retain(|_, b| now.saturating_duration_since(b.at) < refill);
        if map.len() < self.shard_capacity {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|b| b.at).collect();
        let cut = ages.len() / 4;
        let (_, &mut oldest_kept, _) = ages.select_nth_unstable(cut);
        map.retain(|_, b| b.at >= oldest_kept);
    }

    /// Buckets held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Seconds for `Retry-After`: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse_setting("off"), Ok(None));
        assert_eq!(
            Rate::parse_setting("20/s,burst=40"),
            Ok(Some(Rate {
                per_second: 20.0,
                burst: 40
            }))
        );
        assert_eq!(
            Rate::parse_setting("5/s"),
            Ok(Some(Rate {
                per_second: 5.0,
                burst: 5
            }))
        );
        assert_eq!(
            Rate::parse_setting("30/m"),
            Ok(Some(Rate {
                per_second: 0.5,
                burst: 1
            }))
        );
        for bad in [
            "",
            "5",
            "5/x",
            "0/s",
            "-1/s",
            "5/s,burst=0",
            "5/s,b=3",
            "x/s",
        ] {
            assert!(Rate::parse_setting(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn burst_then_refusal_then_refill() {
        let l = RateLimiter::new(
            Rate {
                per_second: 2.0,
                burst: 3,
            },
            64,
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check(&1u32, t0), Ok(()));
        }
        let wait = l.check(&1u32, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(retry_after_secs(wait), 1);
        assert!(l.check(&2u32, t0).is_ok(), "another key has its own bucket");
        assert!(l.check(&1u32, t0 + Duration::from_millis(499)).is_err());
        assert!(l.check(&1u32, t0 + Duration::from_millis(1000)).is_ok());
        assert!(l.check(&1u32, t0 + Duration::from_secs(60)).is_ok());
        assert!(l.check(&1u32, t0 + Duration::from_secs(60)).is_ok());
        assert!(l.check(&1u32, t0 + Duration::from_secs(60)).is_ok());
        assert!(
            l.check(&1u32, t0 + Duration::from_secs(60)).is_err(),
            "a long pause refills only up to the burst"
        );
    }

    /// A flood of distinct keys (spoofed or many addresses) cannot grow
    /// the table past its capacity.
    #[test]
    fn table_is_bounded() {
        let rate = Rate {
            per_second: 1.0,
            burst: 2,
        };
        let l = RateLimiter::new(rate, 16 * SHARDS);
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            let _ = l.check(&i, t0 + Duration::from_micros(u64::from(i)));
        }
        assert!(l.len() <= 16 * SHARDS, "{}", l.len());
        assert!(l.len() >= 8 * SHARDS, "{}", l.len());
    }

    #[test]
    fn connection_caps_per_address_and_in_all() {
        let l = ConnectionLimiter::new(&HttpLimits {
            max_connections_per_ip: 2,
            max_connections: 3,
            ..HttpLimits::default()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = l.acquire(a).unwrap();
        let _a2 = l.acquire(a).unwrap();
        assert_eq!(l.acquire(a).err(), Some(ConnectionRefusal::PerAddress));
        let _b1 = l.acquire(b).unwrap();
        assert_eq!(l.acquire(b).err(), Some(ConnectionRefusal::Total));
        drop(a1);
        assert_eq!(l.open(), 2);
        assert!(l.acquire(b).is_ok(), "a closed connection frees its place");
        let mut h = axum::http::HeaderMap::new();
        assert!(!refuse_before_continue(&h, 10));
        h.insert(axum::http::header::CONTENT_LENGTH, "11".parse().unwrap());
        assert!(
            !refuse_before_continue(&h, 10),
            "no Expect: read up to the limit"
        );
        h.insert(axum::http::header::EXPECT, "100-Continue".parse().unwrap());
        assert!(refuse_before_continue(&h, 10));
        assert!(!refuse_before_continue(&h, 11));
    }

    #[test]
    fn keys() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_ne!(token_key("a"), token_key("b"));
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
