//! Outbound HTTP bodies: every response castguard reads from another
//! server (an upstream DRM license server, an OpenID Connect discovery
//! document, a JSON Web Key Set) is read chunk by chunk and abandoned as
//! soon as it passes its limit.
//!
//! Why not `Response::bytes()` and a size check after: a hostile or broken
//! upstream answering an endless chunked body (no `Content-Length`) would
//! be buffered whole first; eight such license requests in parallel took a
//! server from 48 MB to 438 MB of resident memory. Dropping the response
//! mid-body closes the connection (it cannot go back to the pool), so the
//! upstream stops too.

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
