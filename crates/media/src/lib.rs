//! Ingest, segmenting, on-request protection and manifests.

pub mod manifest;
