//! Repeated log lines, limited: a flood of identical events (3,000 bad
//! viewer tokens from one client, each with its audit line and warnings; a
//! dependency failing on every request) must not flood the log or fill the
//! disk.
//!
//! Events are "similar" when they come from the same log statement with the
//! same field values, a client address counting without its port (each
//! connection has a new one). Of each kind, the first [`BURST`] events of
//! every [`INTERVAL`] are written; the rest are dropped and counted, and
//! [`RepeatLimit::flush`] (called once per interval by `serve`) writes one
//! `N similar lines suppressed` line per kind. Different clients, keys or
//! reasons are different kinds, and an audit line of a granted key
//! (`castguard::audit`, `result=granted`) is always written: every key
//! that left the server keeps its line, even when many players behind one
//! address fetch the same key.
//!
//! Memory is bounded: at most [`MAX_KINDS`] kinds are tracked (a digest
//! each, never the text of the fields); beyond that, new kinds pass
//! unlimited until the next flush clears the table.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash as _, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Events of one kind written per interval.
pub const BURST: u32 = 20;
/// Length of an interval.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Kinds tracked at most.
pub const MAX_KINDS: usize = 4096;

struct Kind {
    window_start: Instant,
    passed: u32,
    suppressed: u64,
    /// What the summary line names: target and message.
    what: String,
}

/// The [`Layer`] that drops repeated events; clone it to keep a handle for
/// [`RepeatLimit::flush`].
#[derive(Clone)]
pub struct RepeatLimit {
    burst: u32,
    interval: Duration,
    kinds: Arc<Mutex<HashMap<u64, Kind>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for RepeatLimit {
    fn default() -> Self {
        RepeatLimit::new(BURST, INTERVAL)
    }
}

/// Collects an event's fields into a digest, and its message.
struct Fields<'a> {
    hash: &'a mut dyn Hasher,
    message: String,
    granted: bool,
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "client" {
            // "203.0.113.7:51234" and "[2001:db8::1]:51234": without the port.
            if let Some((addr, port)) = text.rsplit_once(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (addr.ends_with(']') || !addr.contains(':'))
            {
                text.truncate(addr.len());
            }
        }
        if field.name() == "message" {
            self.message = text.chars().take(120).collect();
        }
        if field.name() == "result" && text.trim_matches('"') == "granted" {
            self.granted = true;
        }
        self.hash.write(field.name().as_bytes());
        self.hash.write(text.as_bytes());
    }
}

impl RepeatLimit {
    pub fn new(burst: u32, interval: Duration) -> Self {
        RepeatLimit {
            burst,
            interval,
            kinds: Default::default(),
            hasher: Default::default(),
        }
    }

    /// Whether `event` is written at `now`.
    fn admit(&self, event: &Event<'_>, now: Instant) -> bool {
        let meta = event.metadata();
        let mut hasher = self.hasher.build_hasher();
        meta.callsite().hash(&mut hasher);
        let mut fields = Fields {
            hash: &mut hasher,
            message: String::new(),
            granted: false,
        };
        event.record(&mut fields);
        if fields.granted && meta.target() == "castguard::audit" {
            return true;
        }
        let message = std::mem::take(&mut fields.message);
        let key = hasher.finish();
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        if !kinds.contains_key(&key) && kinds.len() >= MAX_KINDS {
            return true;
        }
        let k = kinds.entry(key).or_insert_with(|| Kind {
            window_start: now,
            passed: 0,
            suppressed: 0,
            what: format!("{}: {message}", meta.target()),
        });
        if now.saturating_duration_since(k.window_start) >= self.interval {
            k.window_start = now;
            k.passed = 0;
        }
        if k.passed < self.burst {
            k.passed += 1;
            true
        } else {
            k.suppressed += 1;
            false
        }
    }

    /// Writes one summary line per kind that had lines suppressed since the
    /// last flush, and forgets kinds idle for a whole interval.
    pub fn flush(&self) {
        let now = Instant::now();
        let summaries: Vec<(u64, String)> = {
            let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
            let out = kinds
                .values_mut()
                .filter(|k| k.suppressed > 0)
                .map(|k| (std::mem::take(&mut k.suppressed), k.what.clone()))
                .collect();
            kinds.retain(|_, k| {
                now.saturating_duration_since(k.window_start) < self.interval
            });
            out
        };
        for (n, what) in summaries {
            tracing::warn!(target: "castguard::log", suppressed = n, "{n} similar lines suppressed ({what})");
        }
    }
}

impl<S: Subscriber> Layer<S> for RepeatLimit {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        self.admit(event, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// 1,000 identical lines from one client (each from another port)
    /// give 5 lines and one summary; another client's and another
    /// statement's lines are their own kinds; a new interval writes again.
    #[test]
    fn floods_are_cut_to_a_burst_and_a_summary() {
        let buf = Buf::default();
        let limit = RepeatLimit::new(5, Duration::from_millis(300));
        let w = buf.clone();
        let subscriber = tracing_subscriber::registry().with(limit.clone()).with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || w.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            for port in 0..1000u32 {
                tracing::warn!(client = %format!("192.0.2.7:{}", 40000 + port), reason = "signature_invalid", "key delivery decision");
            }
            for _ in 0..3 {
                tracing::warn!(client = "192.0.2.8:1", reason = "signature_invalid", "key delivery decision");
                tracing::info!("another statement");
            }
            for _ in 0..50 {
                tracing::info!(target: "castguard::audit", client = "192.0.2.9:1", result = "granted", "key delivery decision");
            }
            limit.flush();
            std::thread::sleep(Duration::from_millis(350));
            tracing::warn!(client = "192.0.2.7:9", reason = "signature_invalid", "key delivery decision");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let count = |s: &str| out.lines().filter(|l| l.contains(s)).count();
        assert_eq!(count("192.0.2.7"), 6, "{out}");
        assert_eq!(count("192.0.2.8"), 3, "{out}");
        assert_eq!(count("another statement"), 3, "{out}");
        assert_eq!(count("192.0.2.9"), 50, "granted keys keep every audit line: {out}");
        assert_eq!(count("995 similar lines suppressed"), 1, "{out}");
        assert_eq!(count("similar lines suppressed"), 1, "{out}");
    }
}
