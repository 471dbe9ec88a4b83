//! `stsd` (ISO/IEC 14496-12 §8.5.2): the sample descriptions (codec and its
//! configuration) of a track. Visual (§12.1.3) and audio (§12.2.3) sample
//! entries are decoded (audio in the QuickTime version 1 and 2 layouts
//! too), including their encrypted forms `encv`/`enca`
//! (ISO/IEC 23001-7 §4.1 / 14496-12 §8.12); any other entry is kept whole.

pub mod audio;
pub mod avcc;
pub mod esds;
pub mod hvcc;
pub mod sinf;
pub mod visual;

use crate::atom::Atom;
use crate::header::write_box;
use crate::order::OtherWriter;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, RawBox, Reader, Result};
use audio::AudioSampleEntry;
use visual::VisualSampleEntry;

/// One sample description.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleEntry {
    /// `avc1`, `avc3`, `hvc1`, `hev1`, `encv`, ...
    Visual(VisualSampleEntry),
    /// `mp4a`, `ac-3`, `ec-3`, `Opus`, `fLaC`, `enca`.
    Audio(AudioSampleEntry),
    /// Any other entry, kept as bytes.
    Other(RawBox),
}

/// Visual sample entry types decoded as [`VisualSampleEntry`].
pub const VISUAL_KINDS: &[&[u8; 4]] = &[
    b"avc1", b"avc2", b"avc3", b"avc4", b"hvc1", b"hev1", b"dvh1", b"dvhe", b"encv",
];
/// Audio sample entry types decoded as [`AudioSampleEntry`].
pub const AUDIO_KINDS: &[&[u8; 4]] = &[b"mp4a", b"ac-3", b"ec-3", b"Opus", b"fLaC", b"enca"];

impl SampleEntry {
    /// The sample entry type.
    pub fn kind(&self) -> FourCC {
        match self {
            SampleEntry::Visual(v) => v.kind,
            SampleEntry::Audio(a) => a.kind,
            SampleEntry::Other(o) => o.kind,
        }
    }

    /// Decodes one entry found in `parent` (the `stsd` reader).
    pub fn decode_child(
        parent: &Reader<'_>,
        kind: FourCC,
        usertype: Option<[u8; 16]>,
        body: &[u8],
    ) -> Result<Self> {
        let mut r = parent.child(kind, body)?;
        let entry = if VISUAL_KINDS.contains(&&kind.0) {
            SampleEntry::Visual(VisualSampleEntry::decode_body(kind, &mut r)?)
        } else if AUDIO_KINDS.contains(&&kind.0) && AudioSampleEntry::is_known_layout(body) {
            SampleEntry::Audio(AudioSampleEntry::decode_body(kind, &mut r)?)
        } else {
            r.rest();
            SampleEntry::Other(RawBox {
                kind,
                usertype,
                body: body.to_vec(),
            })
        };
        r.expect_empty()?;
        Ok(entry)
    }

    /// Appends the whole entry box.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            SampleEntry::Visual(v) => write_box(out, v.kind, None, |out| v.encode_body(out)),
            SampleEntry::Audio(a) => write_box(out, a.kind, None, |out| a.encode_body(out)),
            SampleEntry::Other(o) => o.encode(out),
        }
    }
}

/// Sample description box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stsd {
    pub entries: Vec<SampleEntry>,
}

impl Atom for Stsd {
    const KIND: FourCC = FourCC::STSD;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, _) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let count = r.u32()?;
        let mut entries = Vec::with_capacity(r.capacity_for(u64::from(count), 8));
        for _ in 0..count {
            let Some((h, body)) = r.next_box()? else {
                return Err(Error::Mismatch {
                    kind: Self::KIND,
                    field: "entry_count",
                    expected: u64::from(count),
                    found: entries.len() as u64,
                });
            };
            entries.push(SampleEntry::decode_child(r, h.kind, h.usertype, body)?);
        }
        Ok(Stsd { entries })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(0, 0);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.entries.len())?);
        for e in &self.entries {
            e.encode(out)?;
        }
        Ok(())
    }
}

/// Rank of the children of a sample entry: codec configuration first,
/// other boxes (`pasp`, `colr`, `btrt`, ...) in their order, `sinf` last,
/// as ffmpeg and Shaka Packager write them.
pub(crate) const R_CONFIG: u8 = 10;
pub(crate) const R_OTHER: u8 = 100;
pub(crate) const R_SINF: u8 = 200;

pub(crate) fn entry_rank(_: FourCC) -> u8 {
    R_OTHER
}

/// Writes config boxes, then `other`, then `sinf`.
pub(crate) fn encode_entry_children(
    out: &mut Vec<u8>,
    configs: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    sinf: &[sinf::Sinf],
    other: &[RawBox],
) -> Result<()> {
    let mut w = OtherWriter::new(other, entry_rank);
    w.before(R_CONFIG, out)?;
    configs(out)?;
    w.before(R_SINF, out)?;
    for s in sinf {
        s.encode(out)?;
    }
    w.finish(out)
}
