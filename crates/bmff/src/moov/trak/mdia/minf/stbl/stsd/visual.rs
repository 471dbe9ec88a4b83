//! Visual sample entries (ISO/IEC 14496-12 §12.1.3): `avc1`/`avc3`
//! (ISO/IEC 14496-15 §5.4), `hvc1`/`hev1` (§8.4) and the encrypted `encv`
//! (ISO/IEC 23001-7 §4.1, original format in `sinf/frma`).

use super::avcc::AvcC;
use super::hvcc::HvcC;
use super::sinf::Sinf;
use super::{encode_entry_children, entry_rank};
use crate::atom::{Atom, set_once};
use crate::order::sort_other;
use crate::reader::Put;
use crate::{FourCC, RawBox, Reader, Result};

/// A visual sample entry. Reserved and pre-defined fields are written with
/// their specified values (zero, and -1 for the last `pre_defined`).
#[derive(Debug, Clone, PartialEq)]
pub struct VisualSampleEntry {
    /// `avc1`, `avc3`, `hvc1`, `hev1`, `encv`, ...
    pub kind: FourCC,
    pub data_reference_index: u16,
    pub width: u16,
    pub height: u16,
    /// 16.16 fixed point, 72 dpi = 0x00480000.
    pub horizresolution: u32,
    pub vertresolution: u32,
    pub frame_count: u16,
    /// Pascal string padded to 32 bytes.
    pub compressorname: [u8; 32],
    pub depth: u16,
    pub avcc: Option<AvcC>,
    pub hvcc: Option<HvcC>,
    /// Protection scheme info; non-empty for `encv`.
    pub sinf: Vec<Sinf>,
    /// `pasp`, `colr`, `btrt`, `fiel`, ... in their order.
    pub other: Vec<RawBox>,
}

impl VisualSampleEntry {
    /// An entry with the usual defaults (72 dpi, depth 0x18, one frame).
    pub fn new(kind: FourCC, width: u16, height: u16) -> Self {
        VisualSampleEntry {
            kind,
            data_reference_index: 1,
            width,
            height,
            horizresolution: 0x0048_0000,
            vertresolution: 0x0048_0000,
            frame_count: 1,
            compressorname: [0; 32],
            depth: 0x18,
            avcc: None,
            hvcc: None,
            sinf: Vec::new(),
            other: Vec::new(),
        }
    }

    pub(crate) fn decode_body(kind: FourCC, r: &mut Reader<'_>) -> Result<Self> {
        r.skip(6)?;
        let data_reference_index = r.u16()?;
        r.skip(16)?;
        let width = r.u16()?;
        let height = r.u16()?;
        let horizresolution = r.u32()?;
        let vertresolution = r.u32()?;
        r.skip(4)?;
        let frame_count = r.u16()?;
        let compressorname = r.array::<32>()?;
        let depth = r.u16()?;
        r.skip(2)?;
        let (mut avcc, mut hvcc) = (None, None);
        let mut sinf = Vec::new();
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                AvcC::KIND => set_once(&mut avcc, kind, h.kind, AvcC::decode_child(r, body))?,
                HvcC::KIND => set_once(&mut hvcc, kind, h.kind, HvcC::decode_child(r, body))?,
                Sinf::KIND => sinf.push(Sinf::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, entry_rank);
        Ok(VisualSampleEntry {
            kind,
            data_reference_index,
            width,
            height,
            horizresolution,
            vertresolution,
            frame_count,
            compressorname,
            depth,
            avcc,
            hvcc,
            sinf,
            other,
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&[0; 6]);
        out.put_u16(self.data_reference_index);
        out.extend_from_slice(&[0; 16]);
        out.put_u16(self.width);
        out.put_u16(self.height);
        out.put_u32(self.horizresolution);
        out.put_u32(self.vertresolution);
        out.put_u32(0);
        out.put_u16(self.frame_count);
        out.extend_from_slice(&self.compressorname);
        out.put_u16(self.depth);
        out.put_i16(-1);
        encode_entry_children(
            out,
            |out| {
                if let Some(c) = &self.avcc {
                    c.encode(out)?;
                }
                if let Some(c) = &self.hvcc {
                    c.encode(out)?;
                }
                Ok(())
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

    pub(crate) fn avc1() -> VisualSampleEntry {
        let mut v = VisualSampleEntry::new(FourCC::AVC1, 320, 180);
        v.avcc = Some(AvcC {
            configuration_version: 1,
            profile_indication: 0x64,
            profile_compatibility: 0,
            level_indication: 0x0d,
            length_size_minus_one: 3,
            sps: vec![vec![0x67, 0x64, 0, 0x0d]],
            pps: vec![vec![0x68, 0xeb]],
            ext: vec![0xfd, 0xf8, 0xf8, 0],
        });
        v.other.push(RawBox {
            kind: FourCC(*b"pasp"),
            usertype: None,
            body: vec![0, 0, 0, 1, 0, 0, 0, 1],
        });
        v
    }

    #[test]
    fn visual_entry_roundtrip() {
        let stsd = Stsd {
            entries: vec![SampleEntry::Visual(avc1())],
        };
        let b = roundtrip(&stsd);
        truncations_fail::<Stsd>(&b);
        // A pasp written before the avcC comes back after it (canonical order).
        let mut moved = b.clone();
        let pasp_at = moved.len() - 16;
        let pasp: Vec<u8> = moved.drain(pasp_at..).collect();
        let avcc_at = 16 + 8 + 78;
        moved.splice(avcc_at..avcc_at, pasp);
        assert_eq!(Stsd::decode(&moved).unwrap(), stsd);
        assert_eq!(Stsd::decode(&moved).unwrap().to_bytes().unwrap(), b);
    }
}
