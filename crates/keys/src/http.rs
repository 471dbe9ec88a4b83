//! Outbound HTTP: bounded bodies, and where fetches may go.
//!
//! Bodies: every response castguard reads from another server (an
//! upstream DRM license server, an OpenID Connect discovery document, a
//! JSON Web Key Set) is read chunk by chunk and abandoned as soon as it
//! passes its limit.
//!
//! Why not `Response::bytes()` and a size check after: a hostile or broken
//! upstream answering an endless chunked body (no `Content-Length`) would
//! be buffered whole first; eight such license requests in parallel took a
//! server from 48 MB to 438 MB of resident memory. Dropping the response
//! mid-body closes the connection (it cannot go back to the pool), so the
//! upstream stops too.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Declared or sent more than `limit` bytes.
    #[error("response larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The connection failed or timed out mid-body (no URL in the text).
    #[error("reading the response: {0}")]
    Transport(String),
}

/// The body of `resp`, at most `limit` bytes: refused at once when the
/// declared `Content-Length` is larger, else read in chunks and abandoned
/// at the first chunk past the limit. Memory held never exceeds `limit`
/// plus one chunk (hyper's read buffer).
pub async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| BodyError::Transport(e.without_url().to_string()))? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most the first `n` bytes of `resp`'s body, for a log line about a
/// failed request; the rest is never read (the connection is dropped).
/// A transport error ends it early with what was read.
pub async fn read_prefix(mut resp: reqwest::Response, n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < n {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(n - out.len());
                out.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// Where the fetches that an anonymous request can cause (OpenID Connect
/// discovery and key sets, fetched on the first key request, before any
/// signature is checked) may go:
/// - `https`, or plain `http` only to a host the operator allows
///   (`castguard serve --allow-http-fetch HOST`), so a discovery URL or a
///   `jwks_uri` cannot aim the server at internal plain-HTTP services;
/// - never an address in 169.254.0.0/16 or fe80::/10 (link-local, where
///   cloud metadata services answer) nor fd00:ec2::254 (the EC2 IPv6
///   metadata address), whether named literally, reached by DNS or by a
///   redirect, unless the host is allowed;
/// - a key set only on the discovery document's own host, unless that
///   host is allowed for key sets (`--allow-jwks-host HOST`).
///
/// Host names compare case-insensitively, IPv6 literals without brackets;
/// ports do not matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    http_hosts: Vec<String>,
    jwks_hosts: Vec<String>,
}

/// Why a URL may not be fetched. Names the host, never the whole URL (a
/// query may hold a credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not a URL")]
    Invalid,
    #[error("scheme {0} not allowed (https only)")]
    Scheme(String),
    #[error("plain http to {0} not allowed (https, or a host allowed for http)")]
    PlainHttp(String),
    #[error("{0} is a link-local or metadata address")]
    Blocked(String),
}

fn normalize(host: &str) -> String {
    host.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

impl FetchPolicy {
    /// Plain HTTP (and blocked addresses) allowed to `http_hosts`; key sets
    /// allowed on `jwks_hosts` whatever the discovery document's host.
    pub fn new<H: AsRef<str>, J: AsRef<str>>(
        http_hosts: impl IntoIterator<Item = H>,
        jwks_hosts: impl IntoIterator<Item = J>,
    ) -> Self {
        FetchPolicy {
            http_hosts: http_hosts.into_iter().map(|h| normalize(h.as_ref())).collect(),
            jwks_hosts: jwks_hosts.into_iter().map(|h| normalize(h.as_ref())).collect(),
        }
    }

    /// Whether the operator allowed `host` (plain HTTP, any address).
    pub fn allows_host(&self, host: &str) -> bool {
        let h = normalize(host);
        self.http_hosts.contains(&h)
    }

    /// Whether a key set may come from `host` when the discovery document
    /// is on another host.
    pub fn allows_jwks_host(&self, host: &str) -> bool {
        let h = normalize(host);
        self.jwks_hosts.contains(&h)
    }

    /// Whether `url` may be fetched, by scheme and (for an address
    /// literal) address; names resolved by DNS are checked by the
    /// resolver of [`FetchPolicy::client_builder`].
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), UrlRefusal> {
        let host = url.host_str().ok_or(UrlRefusal::Invalid)?;
        let allowed = self.allows_host(host);
        match url.scheme() {
            "https" => {}
            "http" if allowed => {}
            "http" => return Err(UrlRefusal::PlainHttp(normalize(host))),
            other => return Err(UrlRefusal::Scheme(other.to_owned())),
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        match literal {
            Some(ip) if !allowed && is_blocked(ip) => Err(UrlRefusal::Blocked(normalize(host))),
            _ => Ok(()),
        }
    }

    /// A client builder that enforces this policy on every hop: redirects
    /// checked like the first URL (at most `max_redirects`), names resolved
    /// with blocked addresses dropped, and no `Referer` header.
    pub fn client_builder(self: &Arc<Self>, max_redirects: usize) -> reqwest::ClientBuilder {
        let policy = self.clone();
        reqwest::Client::builder()
            .referer(false)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max_redirects {
                    return attempt.error("too many redirects");
                }
                match policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }))
            .dns_resolver(GuardedResolver { policy: self.clone() })
    }
}

/// Link-local (169.254.0.0/16, fe80::/10, where cloud metadata services
/// answer) or the EC2 IPv6 metadata address fd00:ec2::254; IPv4-mapped
/// IPv6 addresses count as their IPv4 address.
pub fn is_blocked(ip: IpAddr) -> bool {
    const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == EC2_METADATA_V6,
    }
}

/// The system resolver, with blocked addresses dropped for hosts the
/// policy does not allow: a name that resolves only to them fails.
struct GuardedResolver {
    policy: Arc<FetchPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.policy.allows_host(name.as_str());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed || !is_blocked(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(UrlRefusal::Blocked(normalize(&host))) as _);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The [`UrlRefusal`] somewhere in `e`'s chain of causes, if any: a
/// redirect or a resolved address refused by the policy.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<UrlRefusal> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<UrlRefusal>() {
            return Some(r.clone());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_by_scheme_host_and_address() {
        let strict = FetchPolicy::default();
        let local = FetchPolicy::new(["127.0.0.1", "IdP.Internal", "[fe80::1]"], ["keys.example"]);
        let check = |p: &FetchPolicy, u: &str| p.check_url(&reqwest::Url::parse(u).unwrap());
        assert_eq!(check(&strict, "https://idp.example/x"), Ok(()));
        assert_eq!(check(&strict, "http://127.0.0.1:9/x"), Err(UrlRefusal::PlainHttp("127.0.0.1".into())));
        assert_eq!(check(&local, "http://127.0.0.1:9/x"), Ok(()));
        assert_eq!(check(&local, "http://idp.internal/x"), Ok(()));
        assert!(matches!(check(&local, "ftp://idp.internal/x"), Err(UrlRefusal::Scheme(_))));
        for blocked in ["https://169.254.169.254/latest", "https://[fe80::2]/", "https://[fd00:ec2::254]/", "https://[::ffff:169.254.1.1]/"] {
            assert!(matches!(check(&local, blocked), Err(UrlRefusal::Blocked(_))), "{blocked}");
        }
        assert_eq!(check(&local, "http://[fe80::1]/"), Ok(()), "allowed by the operator");
        assert!(local.allows_jwks_host("KEYS.example"));
        assert!(!strict.allows_jwks_host("keys.example"));
        assert!(!is_blocked("10.0.0.1".parse().unwrap()));
        assert!(!is_blocked("fd00::1".parse().unwrap()));
    }
}
