//! What a store tells about its connection pools, for the server's
//! Prometheus metrics: the size of each pool now ([`PoolStats`], read at
//! scrape time) and how long each request waited for a connection
//! ([`PoolObserver`], told at every acquire).
//!
//! Why waits are reported and not only sizes: a pool with every connection
//! in use looks the same whether requests queue for a millisecond or for
//! seconds; the wait is what a key request's latency pays. The store knows
//! nothing of Prometheus: the server installs an observer that records
//! into its own registry, so that tests running many servers in one
//! process keep their figures apart.

use std::time::Duration;

/// How a connection was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A read (gets, lists, the readiness ping).
    Read,
    /// A write transaction, or a write statement (token-use counters). On
    /// both databases the wait includes waiting for the single writer
    /// (SQLite's one writer connection and `BEGIN IMMEDIATE`, Postgres's
    /// advisory write lock).
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One connection pool now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// `"reader"` and `"writer"` on SQLite; `"shared"` on Postgres, whose
    /// reads and writes share one pool.
    pub pool: &'static str,
    /// Open connections (idle or in use).
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

/// Told how long each connection acquire waited.
pub trait PoolObserver: Send + Sync {
    fn acquired(&self, access: Access, waited: Duration);
}
