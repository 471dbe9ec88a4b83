//! Common Encryption (ISO/IEC 23001-7) schemes, subsample maps, DRM system data and HLS AES-128.
