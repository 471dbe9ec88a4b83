//! Audio sample entries (ISO/IEC 14496-12 §12.2.3): `mp4a` (ISO/IEC
//! 14496-14 §5.6) and the encrypted `enca` (ISO/IEC 23001-7). Only the ISO
//! (QuickTime version 0) layout is decoded; a QuickTime version 1 or 2 sound
//! description is kept whole as [`super::SampleEntry::Other`].

use super::esds::Esds;
use super::sinf::Sinf;
use super::{encode_entry_children, entry_rank};
use crate::atom::{Atom, set_once};
use crate::order::sort_other;
use crate::reader::Put;
use crate::{FourCC, RawBox, Reader, Result};

/// An audio sample entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSampleEntry {
    /// `mp4a`, `enca`.
    pub kind: FourCC,
    pub data_reference_index: u16,
    pub channel_count: u16,
    pub sample_size: u16,
    /// 16.16 fixed point as stored (48 kHz = 48000 << 16).
    pub sample_rate: u32,
    pub esds: Option<Esds>,
    pub sinf: Vec<Sinf>,
    /// `btrt`, `chnl`, `dOps`, ... in their order.
    pub other: Vec<RawBox>,
}

impl AudioSampleEntry {
    /// An entry with 16-bit samples at `sample_rate` Hz.
    pub fn new(kind: FourCC, channel_count: u16, sample_rate_hz: u16) -> Self {
        AudioSampleEntry {
            kind,
            data_reference_index: 1,
            channel_count,
            sample_size: 16,
            sample_rate: u32::from(sample_rate_hz) << 16,
            esds: None,
            sinf: Vec::new(),
            other: Vec::new(),
        }
    }

    /// True when the entry body uses the ISO layout (QuickTime version 0).
    pub(crate) fn is_iso_layout(body: &[u8]) -> bool {
        matches!(body.get(8..10), Some([0, 0]))
    }

    pub(crate) fn decode_body(kind: FourCC, r: &mut Reader<'_>) -> Result<Self> {
        r.skip(6)?;
        let data_reference_index = r.u16()?;
        r.skip(8)?;
        let channel_count = r.u16()?;
        let sample_size = r.u16()?;
        r.skip(4)?;
        let sample_rate = r.u32()?;
        let mut esds = None;
        let mut sinf = Vec::new();
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Esds::KIND => set_once(&mut esds, kind, h.kind, Esds::decode_child(r, body))?,
                Sinf::KIND => sinf.push(Sinf::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, entry_rank);
        Ok(AudioSampleEntry {
            kind,
            data_reference_index,
            channel_count,
            sample_size,
            sample_rate,
            esds,
            sinf,
            other,
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&[0; 6]);
        out.put_u16(self.data_reference_index);
        out.extend_from_slice(&[0; 8]);
        out.put_u16(self.channel_count);
        out.put_u16(self.sample_size);
        out.put_u32(0);
        out.put_u32(self.sample_rate);
        encode_entry_children(
            out,
            |out| match &self.esds {
                Some(e) => e.encode(out),
                None => Ok(()),
            },
            &self.sinf,
            &self.other,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SampleEntry, Stsd};
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn audio_entry_roundtrip() {
        let mut a = AudioSampleEntry::new(FourCC::MP4A, 2, 48000);
        a.esds = Some(Esds::new(0x40, 128_000, 96_000, &[0x11, 0x90]));
        a.other.push(RawBox {
            kind: FourCC(*b"btrt"),
            usertype: None,
            body: vec![0; 12],
        });
        let b = roundtrip(&Stsd {
            entries: vec![SampleEntry::Audio(a)],
        });
        truncations_fail::<Stsd>(&b);
    }

    #[test]
    fn quicktime_v1_sound_kept_whole() {
        let mut body = vec![0u8; 44];
        body[7] = 1;
        body[9] = 1; // QuickTime sound description version 1
        let mut stsd = b"\0\0\0\0stsd\0\0\0\0\0\0\0\x01".to_vec();
        stsd.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
        stsd.extend_from_slice(b"mp4a");
        stsd.extend_from_slice(&body);
        let len = stsd.len() as u32;
        stsd[..4].copy_from_slice(&len.to_be_bytes());
        let d = Stsd::decode(&stsd).unwrap();
        assert!(matches!(&d.entries[0], SampleEntry::Other(o) if o.kind == FourCC::MP4A));
        assert_eq!(d.to_bytes().unwrap(), stsd);
    }
}
