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
//!   counts (the one the nearest proxy wrote);
//! - `X-Forwarded-Host` (with `X-Forwarded-Proto` for its scheme) only
//!   with `--trust-forwarded-host`, and only from a trusted proxy: it then
//!   names the base of the URLs written into manifests for that request
//!   ([`ForwardedTrust::public_base`]), for a node reached under several
//!   names. A client's own header never gets there: a CDN caches
//!   manifests, and one naming a host the client chose would send other
//!   viewers there.

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
    /// Build manifest URLs on a trusted proxy's `X-Forwarded-Host`.
    pub host: bool,
}

/// Request extension: the resolved client address and transport
/// (inserted for every request by the middleware of [`crate::app`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOrigin {
    /// `None` when the server runs without socket information (tests
    /// driving the router directly).
    pub client: Option<IpAddr>,
    pub https: bool,
    /// The request came through a trusted proxy (its peer is in a
    /// `--trusted-proxy` range).
    pub from_proxy: bool,
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
        RequestOrigin { client, https, from_proxy }
    }

    /// The base URL a trusted proxy names for this request
    /// (`X-Forwarded-Proto://X-Forwarded-Host`, last values), when
    /// `--trust-forwarded-host` is on, the request came through a trusted
    /// proxy and the host is a plain `host[:port]`; else `None` (the
    /// configured public URL applies).
    pub fn public_base(&self, origin: &RequestOrigin, headers: &HeaderMap) -> Option<String> {
        if !self.host || !origin.from_proxy {
            return None;
        }
        let host = last_value(headers, "x-forwarded-host")?;
        if !is_host_port(host) {
            return None;
        }
        let scheme = match last_value(headers, "x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            _ if origin.https => "https",
            _ => "http",
        };
        Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
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

/// `host[:port]` as a URL authority may hold it, nothing more: a DNS name
/// (letters, digits, `-`, `.`), an IPv4 address or a bracketed IPv6 one,
/// and a port of digits. No user info, path, spaces or other characters.
fn is_host_port(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    let (host_ok, port) = match s.strip_prefix('[') {
        Some(rest) => {
            let Some((v6, after)) = rest.split_once(']') else {
                return false;
            };
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return false,
                },
            };
            (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match s.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            };
            let ok = !host.is_empty()
                && !host.starts_with(['-', '.'])
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            (ok, port)
        }
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    host_ok && port_ok
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
            host: false,
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
    fn forwarded_host_only_from_a_trusted_proxy_when_enabled() {
        let h = headers(&[
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-host", "Media.Example.com:8443"),
            ("x-forwarded-proto", "https"),
        ]);
        let proxy: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        let t = ForwardedTrust {
            proxies: vec![parse_proxy("10.0.0.0/8").unwrap()],
            proto: false,
            host: true,
        };
        let o = t.resolve(Some(proxy), false, &h);
        assert!(o.from_proxy);
        assert_eq!(t.public_base(&o, &h).as_deref(), Some("https://media.example.com:8443"));
        // Not through a trusted proxy, or not enabled: the configured URL.
        let o = t.resolve(Some(stranger), false, &h);
        assert_eq!(t.public_base(&o, &h), None);
        let off = ForwardedTrust { host: false, ..t.clone() };
        let o = off.resolve(Some(proxy), false, &h);
        assert_eq!(off.public_base(&o, &h), None);
        // Without a proto header, the connection's scheme.
        let plain = headers(&[("x-forwarded-host", "cdn.example")]);
        let o = t.resolve(Some(proxy), true, &plain);
        assert_eq!(t.public_base(&o, &plain).as_deref(), Some("https://cdn.example"));
        for bad in ["a b", "user@host", "host/path", "host:", "host:0", "host:99999", "-x", "[::1", "[zz]:80", "h\"x", ""] {
            let h = headers(&[("x-forwarded-host", bad)]);
            let o = t.resolve(Some(proxy), false, &h);
            assert_eq!(t.public_base(&o, &h), None, "{bad}");
        }
        for good in ["[2001:db8::1]:8080", "[::1]", "127.0.0.1:9", "a-b.c"] {
            assert!(is_host_port(good), "{good}");
        }
    }

    #[test]
    fn forwarded_proto_only_when_trusted() {
        let h = headers(&[("x-forwarded-proto", "http, https")]);
        let any = ForwardedTrust {
            proxies: vec![],
            proto: true,
            host: false,
        };
        assert!(any.resolve(peer("198.51.100.1"), false, &h).https);
        let spoofed = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!any.resolve(peer("198.51.100.1"), false, &spoofed).https);
        let only_proxy = ForwardedTrust {
            proxies: vec![parse_proxy("10.0.0.0/8").unwrap()],
            proto: true,
            host: false,
        };
        assert!(!only_proxy.resolve(peer("198.51.100.1"), false, &h).https);
        assert!(only_proxy.resolve(peer("10.9.9.9"), false, &h).https);
    }
}
