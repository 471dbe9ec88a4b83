//! `moof` (ISO/IEC 14496-12 §8.8.4): a movie fragment: sequence number,
//! track fragments, and DRM headers (`pssh`, ISO/IEC 23001-7 §8.1), written
//! after the `traf`s as Shaka Packager does.

pub mod mfhd;
pub mod traf;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::pssh::Pssh;
use crate::{FourCC, RawBox, Reader, Result};
use mfhd::Mfhd;
use traf::Traf;

/// Movie fragment box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Moof {
    pub mfhd: Mfhd,
    pub trafs: Vec<Traf>,
    pub pssh: Vec<Pssh>,
    pub other: Vec<RawBox>,
}

const R_MFHD: u8 = 10;
const R_TRAF: u8 = 20;
const R_PSSH: u8 = 30;

fn rank(_: FourCC) -> u8 {
    LAST
}

impl Moof {
    /// Decodes a whole `moof` whose `senc` IVs are `per_sample_iv_size` bytes.
    pub fn decode_with_iv_size(buf: &[u8], per_sample_iv_size: u8) -> Result<Self> {
        traf::decode_whole(buf, Self::KIND, |r| {
            Moof::decode_body_inner(r, Some(per_sample_iv_size))
        })
    }

    fn decode_body_inner(r: &mut Reader<'_>, iv_size: Option<u8>) -> Result<Self> {
        let mut mfhd = None;
        let (mut trafs, mut pssh, mut other) = (Vec::new(), Vec::new(), Vec::new());
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Mfhd::KIND => set_once(&mut mfhd, Self::KIND, h.kind, Mfhd::decode_child(r, body))?,
                Traf::KIND => {
                    let mut c = r.child(Traf::KIND, body)?;
                    let t = Traf::decode_body_with_iv_size(&mut c, iv_size)?;
                    c.expect_empty()?;
                    trafs.push(t);
                }
                Pssh::KIND => pssh.push(Pssh::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Moof {
            mfhd: required(mfhd, Self::KIND, Mfhd::KIND)?,
            trafs,
            pssh,
            other,
        })
    }
}

impl Atom for Moof {
    const KIND: FourCC = FourCC::MOOF;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Moof::decode_body_inner(r, None)
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        w.before(R_MFHD, out)?;
        self.mfhd.encode(out)?;
        w.before(R_TRAF, out)?;
        for t in &self.trafs {
            t.encode(out)?;
        }
        w.before(R_PSSH, out)?;
        for p in &self.pssh {
            p.encode(out)?;
        }
        w.finish(out)
    }
}
