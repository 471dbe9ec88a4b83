//! castguard `keys`: content keys, content key policies and the management
//! data model (see DESIGN.md, "Data model").
//!
//! This crate owns what a key *is* and who may receive it; the `store` crate
//! persists it, the `server` crate exposes it. Token validation, license
//! formats and the DRM proxy build on [`model`].

#![forbid(unsafe_code)]

pub mod cpix;
pub mod entitlement;
pub mod http;
pub mod model;
pub mod policy;
pub mod sts;
pub mod token;
