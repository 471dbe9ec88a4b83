//! Ingest, segmenting, on-request protection and manifests.
