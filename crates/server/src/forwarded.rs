//! Who sent a request, and over what: the client address and whether the
//! client's connection was HTTPS.
//!
//! By default both come from the socket: the peer address, and whether
//! this server accepted the connection over TLS. The de facto
//! `X-Forwarded-For` and `X-Forwarded-Proto` headers (the standard form is
//! RFC 7239 `Forwarded`) are written by whoever sends the request, so a
//! client could claim any address (and escape its rate limit) or claim
//! HTTPS over plain HTTP (and get keys the operator meant for HTTPS only).
//! They are believed only when the operator says so:
//! - `X-Forwarded-For` only from a peer inside a `--trusted-proxy` range;
//!   the client is the rightmost address that is not itself a trusted
//!   proxy (each proxy appends the address it saw, so entries left of it
//!   may be forged by the client);
//! - `X-Forwarded-Proto` only with `--trust-forwarded-proto`, and then
//!   only from a trusted proxy when any are configured; its last value
//!   counts (the one the nearest proxy wrote).

use axum::http::HeaderMap;
pub use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Which forwarding headers to believe.
#[derive(Debug, Clone, Default)]
pub struct ForwardedTrust {
    /// Peers whose `X-Forwarded-For` (and `X-Forwarded-Proto`) is believed.
    pub proxies: Vec<IpNet>,
    /// Believe `X-Forwarded-Proto: https`.
    pub proto: bool,
}

/// Request extension: the resolved client address and transport
/// (inserted for every request by the middleware of [`crate::app`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOrigin {
    /// `None` when the server runs without socket information (tests
    /// driving the router directly).
    pub client: Option<IpAddr>,
    pub https: bool,
}

/// Parses a `--trusted-proxy` value: a CIDR range or a single address.
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is not an IP address or CIDR range"))
}

impl ForwardedTrust {
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.proxies.iter().any(|n| n.contains(&ip))
    }

    /// The origin of a request from `peer` (over TLS when `tls`).
    pub fn resolve(
        &self,
        peer: Option<SocketAddr>,
        tls: bool,
        headers: &HeaderMap,
    ) -> RequestOrigin {
        let peer_ip = peer.map(|p| p.ip().to_canonical());
        let from_proxy = peer_ip.is_some_and(|ip| self.trusts(ip));
        let client = if from_proxy {
            self.forwarded_client(headers).or(peer_ip)
        } else {
            peer_ip
        };
        let https = tls
            || (self.proto
                && (self.proxies.is_empty() || from_proxy)
                && last_value(headers, "x-forwarded-proto")
                    .is_some_and(|v| v.eq_ignore_ascii_case("https")));
        RequestOrigin { client, https }
    }

    fn forwarded_client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut hops = Vec::new();
        for v in headers.get_all("x-forwarded-for") {
            let v = v.to_str().ok()?;
            hops.extend(v.split(',').map(str::trim));
        }
        let mut last_trusted = None;
        for hop in hops.iter().rev() {
            let ip = parse_hop(hop)?;
            if !self.trusts(ip) {
                return Some(ip);
            }
            last_trusted = Some(ip);
        }
        last_trusted
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(name)
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 5555))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn headers_are_ignored_by_default() {
        let t = ForwardedTrust::default();
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let o = t.resolve(peer("198.51.100.1"), false, &h);
        assert_eq!(o.client, ip("198.51.100.1"));
        assert!(!o.https, "X-Forwarded-Proto believed without the option");
        assert!(t.resolve(peer("198.51.100.1"), true, &h).https);
    }

    #[test]
    fn trusted_proxy_gives_the_rightmost_untrusted_hop() {
        let t = ForwardedTrust {
            proxies: vec![
                parse_proxy("10.0.0.0/8").unwrap(),
                parse_proxy("192.0.2.1").unwrap(),
            ],
            proto: false,
        };
        // The client forged the first entry; the proxies appended the rest.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(
            t.resolve(peer("10.0.0.5"), false, &h).client,
            ip("203.0.113.9")
        );
        // From an untrusted peer the header is ignored.
        assert_eq!(
            t.resolve(peer("198.51.100.7"), false, &h).client,
            ip("198.51.100.7")
        );
        // Garbage falls back to the peer; ports and IPv4-mapped forms work.
        let g = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(
            t.resolve(peer("10.0.0.5"), false, &g).client,
            ip("10.0.0.5")
        );
        let p = headers(&[("x-forwarded-for", "[2001:db8::1]:443, 203.0.113.10:1234")]);
        assert_eq!(
            t.resolve(peer("::ffff:10.0.0.5"), false, &p).client,
            ip("203.0.113.10")
        );
        assert!(parse_proxy("nonsense").is_err());
    }

    #[test]
    fn forwarded_proto_only_when_trusted() {
        let h = headers(&[("x-forwarded-proto", "http, https")]);
        let any = ForwardedTrust {
            proxies: vec![],
            proto: true,
        };
        assert!(any.resolve(peer("198.51.100.1"), false, &h).https);
        let spoofed = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!any.resolve(peer("198.51.100.1"), false, &spoofed).https);
        let only_proxy = ForwardedTrust {
            proxies: vec![parse_proxy("10.0.0.0/8").unwrap()],
            proto: true,
        };
        assert!(!only_proxy.resolve(peer("198.51.100.1"), false, &h).https);
        assert!(only_proxy.resolve(peer("10.9.9.9"), false, &h).https);
    }
}
