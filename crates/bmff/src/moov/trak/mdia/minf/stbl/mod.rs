//! `stbl` (ISO/IEC 14496-12 §8.5.1): the sample table of a progressive
//! track: descriptions, timing, sizes, chunk layout and sync samples.
//! [`crate::sample_table::samples`] expands it into one record per sample.
//!
//! Write order follows ffmpeg (`stsd stts stss sdtp ctts cslg stsc stsz stco`,
//! then sample groups), so its files round-trip byte for byte.

/// A full box holding `entry_count` followed by that many integers.
macro_rules! u_list_box {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $field:ident, $t:ty, $read:ident, $put:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            pub $field: Vec<$t>,
        }

        impl crate::atom::Atom for $name {
            const KIND: crate::FourCC = $kind;

            fn decode_body(r: &mut crate::Reader<'_>) -> crate::Result<Self> {
                r.full_header()?;
                let count = r.u32()?;
                let mut $field = Vec::with_capacity(r.capacity_for(u64::from(count), $len));
                for _ in 0..count {
                    $field.push(r.$read()?);
                }
                Ok($name { $field })
            }

            fn encode_body(&self, out: &mut Vec<u8>) -> crate::Result<()> {
                use crate::reader::Put as _;
                out.put_full(0, 0);
                out.put_u32(crate::reader::count_u32(Self::KIND, "entry_count", self.$field.len())?);
                for v in &self.$field {
                    out.$put(*v);
                }
                Ok(())
            }
        }
    };
}

pub mod ctts;
pub mod stco;
pub mod stsc;
pub mod stsd;
pub mod stss;
pub mod stsz;
pub mod stts;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use ctts::Ctts;
use stco::{Co64, Stco};
use stsc::Stsc;
use stsd::Stsd;
use stss::Stss;
use stsz::{Stsz, Stz2};
use stts::Stts;

/// Sample table box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stbl {
    pub stsd: Stsd,
    pub stts: Stts,
    pub ctts: Option<Ctts>,
    pub stsc: Stsc,
    pub stsz: Option<Stsz>,
    pub stz2: Option<Stz2>,
    pub stco: Option<Stco>,
    pub co64: Option<Co64>,
    pub stss: Option<Stss>,
    /// `sdtp`, `cslg`, `sgpd`, `sbgp`, `subs`, ... kept whole.
    pub other: Vec<RawBox>,
}

const R_STSD: u8 = 10;
const R_STTS: u8 = 20;
const R_STSS: u8 = 30;
const R_CTTS: u8 = 40;
const R_STSC: u8 = 50;
const R_STSZ: u8 = 60;
const R_STZ2: u8 = 62;
const R_STCO: u8 = 70;
const R_CO64: u8 = 72;

fn rank(k: FourCC) -> u8 {
    match &k.0 {
        b"stsh" => R_STSS + 1,
        b"sdtp" => R_STSS + 2,
        b"cslg" => R_CTTS + 1,
        b"padb" | b"stdp" => R_CO64 + 1,
        b"sgpd" => R_CO64 + 2,
        b"sbgp" => R_CO64 + 3,
        _ => LAST,
    }
}

impl Atom for Stbl {
    const KIND: FourCC = FourCC::STBL;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let mut s = (None, None, None, None, None, None, None, None, None);
        let mut other = Vec::new();
        let p = Self::KIND;
        while let Some((h, body)) = r.next_box()? {
            let k = h.kind;
            match k {
                Stsd::KIND => set_once(&mut s.0, p, k, Stsd::decode_child(r, body))?,
                Stts::KIND => set_once(&mut s.1, p, k, Stts::decode_child(r, body))?,
                Ctts::KIND => set_once(&mut s.2, p, k, Ctts::decode_child(r, body))?,
                Stsc::KIND => set_once(&mut s.3, p, k, Stsc::decode_child(r, body))?,
                Stsz::KIND => set_once(&mut s.4, p, k, Stsz::decode_child(r, body))?,
                Stz2::KIND => set_once(&mut s.5, p, k, Stz2::decode_child(r, body))?,
                Stco::KIND => set_once(&mut s.6, p, k, Stco::decode_child(r, body))?,
                Co64::KIND => set_once(&mut s.7, p, k, Co64::decode_child(r, body))?,
                Stss::KIND => set_once(&mut s.8, p, k, Stss::decode_child(r, body))?,
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Stbl {
            stsd: required(s.0, p, Stsd::KIND)?,
            stts: required(s.1, p, Stts::KIND)?,
            ctts: s.2,
            stsc: required(s.3, p, Stsc::KIND)?,
            stsz: s.4,
            stz2: s.5,
            stco: s.6,
            co64: s.7,
            stss: s.8,
            other,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        w.before(R_STSD, out)?;
        self.stsd.encode(out)?;
        w.before(R_STTS, out)?;
        self.stts.encode(out)?;
        if let Some(b) = &self.stss {
            w.before(R_STSS, out)?;
            b.encode(out)?;
        }
        if let Some(b) = &self.ctts {
            w.before(R_CTTS, out)?;
            b.encode(out)?;
        }
        w.before(R_STSC, out)?;
        self.stsc.encode(out)?;
        if let Some(b) = &self.stsz {
            w.before(R_STSZ, out)?;
            b.encode(out)?;
        }
        if let Some(b) = &self.stz2 {
            w.before(R_STZ2, out)?;
            b.encode(out)?;
        }
        if let Some(b) = &self.stco {
            w.before(R_STCO, out)?;
            b.encode(out)?;
        }
        if let Some(b) = &self.co64 {
            w.before(R_CO64, out)?;
            b.encode(out)?;
        }
        w.finish(out)
    }
}
