//! Subsample maps: which bytes of a sample stay clear and which are protected.
//!
//! ISO/IEC 23001-7 §9.5.2 (AVC/HEVC video in NAL structure): every subsample's clear part
//! holds the NAL length prefix, the NAL unit header and the slice header of a VCL NAL unit;
//! non-VCL NAL units (SPS, PPS, SEI, AUD, ...) are entirely clear; the protected part is
//! the slice data. Scheme specifics, as shaka-packager's `SubsampleGenerator` does them:
//! - `cenc`: each protected part is a multiple of 16 bytes (CMAF requires this for `cenc`
//!   video); the remainder moves into the clear part in front of it.
//! - `cbcs`: the protected part starts right after the slice header (§10.4.2); the pattern
//!   leaves a trailing partial block clear. Parts shorter than one block are made clear.
//! - Consecutive clear-only NAL units are merged; clear runs over 65535 bytes are split
//!   into `(65535, 0)` entries, since `BytesOfClearData` is 16 bits (§7.2).
//! - Audio and other codecs: whole-sample encryption, no subsamples (§9.5.1).
//!
//! The H.264 slice header size comes from `cros-codecs` (its parser reports the header size
//! in bits and the emulation prevention bytes inside it); the H.265 one from our own walk of
//! the slice segment header (`hevc_slice`), because cros-codecs 0.0.6 panics on slices with
//! more than 32 entry points (4K with wavefront parallel processing). Parameter sets of both
//! codecs are parsed by cros-codecs. Parameter
//! sets come from avcC/hvcC and from in-band SPS/PPS NAL units (`avc3`/`hev1`), which
//! replace stored sets with the same ID. The cros-codecs parser holds `Rc`s (not `Send`),
//! so the generator keeps only raw parameter set bytes and builds a parser per sample;
//! that keeps `SubsampleGenerator: Send`. Calls into cros-codecs run under
//! `catch_unwind`: a panic on malformed input becomes an [`Error`], never a crash.

mod avc;
mod hevc;
mod hevc_slice;

use std::collections::BTreeMap;

use crate::{Error, Result, Scheme, Subsample};

const AES_BLOCK: usize = 16;

/// What one NAL unit contributes, decided by the codec module.
enum NalRole {
    /// Clear entirely.
    Clear,
    /// A parameter set to parse and store under this (order, id) key.
    ParamSet,
    /// A slice: its header must stay clear.
    Slice,
}

/// Codec-specific parsing behind one interface.
trait NalCodec {
    const NAME: &'static str;
    const HEADER_LEN: usize;
    type Parser;
    fn role(nal: &[u8], offset: usize) -> Result<NalRole>;
    fn new_parser() -> Self::Parser;
    /// Parses a parameter set into `parser`, returning its (kind order, id) key.
    fn parse_param_set(parser: &mut Self::Parser, nal: &[u8]) -> Result<(u8, u8)>;
    /// The slice header size in bytes of the NAL unit, including the NAL unit header and
    /// any emulation prevention bytes inside the header.
    fn slice_header_len(parser: &mut Self::Parser, nal: &[u8], offset: usize) -> Result<usize>;
}

/// Runs `f`, turning a panic inside a third-party parser into an error string.
fn guarded<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("parser panicked on this input".to_owned()))
}

#[derive(Clone, Debug)]
enum Kind {
    Whole,
    Avc(NalState),
    Hevc(NalState),
}

#[derive(Clone, Debug)]
struct NalState {
    length_size: u8,
    /// Parameter sets by (kind order, id): SPS before PPS, so a PPS finds its SPS.
    sets: BTreeMap<(u8, u8), Vec<u8>>,
}

/// Decides the subsample map of each sample of one track.
#[derive(Clone, Debug)]
pub struct SubsampleGenerator {
    scheme: Scheme,
    kind: Kind,
}

impl SubsampleGenerator {
    /// H.264 (`avc1`/`avc3`) with the SPS and PPS NAL units of the avcC (without length
    /// prefixes). `nal_length_size` is avcC `lengthSizeMinusOne + 1`.
    pub fn avc(
        nal_length_size: u8,
        sps: &[Vec<u8>],
        pps: &[Vec<u8>],
        scheme: Scheme,
    ) -> Result<Self> {
        let state = NalState::new::<avc::Avc>(nal_length_size, sps.iter().chain(pps))?;
        Ok(SubsampleGenerator {
            scheme,
            kind: Kind::Avc(state),
        })
    }

    /// H.265 (`hvc1`/`hev1`) with the parameter set NAL units of the hvcC. The VPS is
    /// accepted for symmetry with hvcC but not needed: slice headers do not depend on it.
    pub fn hevc(
        nal_length_size: u8,
        vps: &[Vec<u8>],
        sps: &[Vec<u8>],
        pps: &[Vec<u8>],
        scheme: Scheme,
    ) -> Result<Self> {
        let _ = vps;
        let state = NalState::new::<hevc::Hevc>(nal_length_size, sps.iter().chain(pps))?;
        Ok(SubsampleGenerator {
            scheme,
            kind: Kind::Hevc(state),
        })
    }

    /// Whole-sample encryption (audio and other codecs): [`Self::subsamples`] returns an
    /// empty map.
    pub fn whole_sample(scheme: Scheme) -> Self {
        SubsampleGenerator {
            scheme,
            kind: Kind::Whole,
        }
    }

    /// The subsample map of one sample; empty means whole-sample encryption (no subsample
    /// entries in `senc`). In-band SPS/PPS update the generator's state.
    pub fn subsamples(&mut self, sample: &[u8]) -> Result<Vec<Subsample>> {
        self.subsamples_of(std::iter::once(sample)).map(|mut maps| maps.pop().unwrap_or_default())
    }

    /// The subsample maps of several samples in decode order (a fragment's), with one
    /// parameter-set parser for all of them: the parser is not `Send`, so the generator
    /// keeps only the parameter sets and builds a parser per call, and calling this once
    /// per fragment instead of [`Self::subsamples`] per sample saves re-parsing every
    /// SPS/PPS for each sample.
    pub fn subsamples_of<'a>(
        &mut self,
        samples: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Vec<Subsample>>> {
        let align = self.scheme == Scheme::Cenc;
        match &mut self.kind {
            Kind::Whole => Ok(samples.into_iter().map(|_| Vec::new()).collect()),
            Kind::Avc(state) => state.subsamples_of::<avc::Avc>(samples, align),
            Kind::Hevc(state) => state.subsamples_of::<hevc::Hevc>(samples, align),
        }
    }
}

impl NalState {
    fn new<'a, C: NalCodec>(
        length_size: u8,
        sets: impl Iterator<Item = &'a Vec<u8>>,
    ) -> Result<NalState> {
        if !matches!(length_size, 1 | 2 | 4) {
            return Err(Error::NalLengthSize(length_size));
        }
        let mut state = NalState {
            length_size,
            sets: BTreeMap::new(),
        };
        let mut parser = C::new_parser();
        for nal in sets {
            if nal.len() < C::HEADER_LEN {
                return Err(Error::ParameterSet {
                    codec: C::NAME,
                    kind: "parameter set",
                    reason: format!("{} bytes, shorter than the NAL header", nal.len()),
                });
            }
            let key = C::parse_param_set(&mut parser, nal)?;
            state.sets.insert(key, nal.clone());
        }
        Ok(state)
    }

    fn subsamples_of<'a, C: NalCodec>(
        &mut self,
        samples: impl IntoIterator<Item = &'a [u8]>,
        align: bool,
    ) -> Result<Vec<Vec<Subsample>>> {
        let mut parser = C::new_parser();
        for nal in self.sets.values() {
            C::parse_param_set(&mut parser, nal)?;
        }
        samples
            .into_iter()
            .map(|sample| self.subsamples_with::<C>(&mut parser, sample, align))
            .collect()
    }

    fn subsamples_with<C: NalCodec>(
        &mut self,
        parser: &mut C::Parser,
        sample: &[u8],
        align: bool,
    ) -> Result<Vec<Subsample>> {
        let ls = usize::from(self.length_size);
        let mut org = Organizer::new(align);
        let mut pos = 0usize;
        while pos < sample.len() {
            let prefix = sample
                .get(pos..pos + ls)
                .ok_or(Error::NalLengthTruncated { offset: pos })?;
            let len = prefix
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            let start = pos + ls;
            let available = sample.len() - start;
            let nal = sample.get(start..).and_then(|rest| rest.get(..len)).ok_or(
                Error::NalTruncated {
                    offset: pos,
                    declared: len,
                    available,
                },
            )?;
            if nal.len() < C::HEADER_LEN {
                return Err(Error::NalTooShort {
                    offset: pos,
                    len: nal.len(),
                });
            }
            let (clear, protected) = match C::role(nal, pos)? {
                NalRole::Clear => (len, 0),
                NalRole::ParamSet => {
                    let key = C::parse_param_set(parser, nal)?;
                    self.sets.insert(key, nal.to_vec());
                    (len, 0)
                }
                NalRole::Slice => {
                    let header = C::slice_header_len(parser, nal, pos)?.min(len);
                    (header, len - header)
                }
            };
            org.add(ls + clear, protected);
            pos = start + len;
        }
        Ok(org.finish())
    }
}

/// Builds `senc` entries from (clear, protected) pairs: aligns protected sizes for `cenc`,
/// makes sub-block protected parts clear, merges clear runs, splits clear runs > 65535.
struct Organizer {
    align: bool,
    pending_clear: usize,
    out: Vec<Subsample>,
}

impl Organizer {
    fn new(align: bool) -> Self {
        Organizer {
            align,
            pending_clear: 0,
            out: Vec::new(),
        }
    }

    fn add(&mut self, mut clear: usize, mut protected: usize) {
        let movable = if self.align { protected % AES_BLOCK } else { 0 };
        clear += movable;
        protected -= movable;
        if protected < AES_BLOCK {
            clear += protected;
            protected = 0;
        }
        self.pending_clear += clear;
        if protected > 0 {
            self.push(protected);
        }
    }

    fn push(&mut self, protected: usize) {
        while self.pending_clear > usize::from(u16::MAX) {
            self.out.push(Subsample {
                clear: u16::MAX,
                protected: 0,
            });
            self.pending_clear -= usize::from(u16::MAX);
        }
        // Protected sizes above u32::MAX cannot occur: a NAL unit length prefix is at most
        // 32 bits. Split defensively anyway rather than truncate.
        let mut protected = protected;
        loop {
            let part = protected.min(u32::MAX as usize & !(AES_BLOCK - 1));
            // pending_clear <= u16::MAX here.
            self.out.push(Subsample {
                clear: self.pending_clear as u16,
                protected: part as u32,
            });
            self.pending_clear = 0;
            protected -= part;
            if protected == 0 {
                break;
            }
        }
    }

    fn finish(mut self) -> Vec<Subsample> {
        if self.pending_clear > 0 {
            while self.pending_clear > usize::from(u16::MAX) {
                self.out.push(Subsample {
                    clear: u16::MAX,
                    protected: 0,
                });
                self.pending_clear -= usize::from(u16::MAX);
            }
            self.out.push(Subsample {
                clear: self.pending_clear as u16,
                protected: 0,
            });
        }
        self.out
    }
}

#[cfg(test)]
mod tests;
