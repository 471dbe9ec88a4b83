//! `traf` (ISO/IEC 14496-12 §8.8.6): one track's part of a movie fragment:
//! defaults, decode time, sample runs, and for Common Encryption the
//! `senc`/`saiz`/`saio` boxes (ISO/IEC 23001-7 §7).
//!
//! `senc` needs the IV size from `tenc`, which a `traf` does not know: on
//! decode it is inferred (see [`senc::Senc`]); when that is ambiguous, decode
//! with [`Traf::decode_with_iv_size`].

pub mod saiz;
pub mod senc;
pub mod tfdt;
pub mod tfhd;
pub mod trun;

use crate::atom::{Atom, required, set_once};
use crate::order::{LAST, OtherWriter, sort_other};
use crate::{FourCC, RawBox, Reader, Result};
use saiz::{Saio, Saiz};
use senc::Senc;
use tfdt::Tfdt;
use tfhd::Tfhd;
use trun::Trun;

/// Track fragment box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Traf {
    pub tfhd: Tfhd,
    pub tfdt: Option<Tfdt>,
    pub truns: Vec<Trun>,
    pub senc: Option<Senc>,
    pub saiz: Vec<Saiz>,
    pub saio: Vec<Saio>,
    /// `sbgp`, `sgpd`, `subs`, ... kept whole.
    pub other: Vec<RawBox>,
}

const R_TFHD: u8 = 10;
const R_TFDT: u8 = 20;
const R_TRUN: u8 = 30;
const R_SAIZ: u8 = 40;
const R_SAIO: u8 = 50;
const R_SENC: u8 = 60;

fn rank(k: FourCC) -> u8 {
    match &k.0 {
        b"sgpd" | b"sbgp" => R_TRUN + 1,
        _ => LAST,
    }
}

impl Traf {
    /// Decodes a `traf` body whose `senc` IVs are `per_sample_iv_size` bytes.
    pub fn decode_body_with_iv_size(
        r: &mut Reader<'_>,
        per_sample_iv_size: Option<u8>,
    ) -> Result<Self> {
        let (mut tfhd, mut tfdt, mut senc) = (None, None, None);
        let (mut truns, mut saiz, mut saio, mut other) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let p = FourCC::TRAF;
        while let Some((h, body)) = r.next_box()? {
            let k = h.kind;
            match k {
                Tfhd::KIND => set_once(&mut tfhd, p, k, Tfhd::decode_child(r, body))?,
                Tfdt::KIND => set_once(&mut tfdt, p, k, Tfdt::decode_child(r, body))?,
                Trun::KIND => truns.push(Trun::decode_child(r, body)?),
                Senc::KIND => {
                    let v = match per_sample_iv_size {
                        Some(iv) => {
                            let mut c = r.child(k, body)?;
                            Senc::decode_body_with_iv_size(&mut c, iv)
                                .and_then(|s| c.expect_empty().map(|_| s))
                        }
                        None => Senc::decode_child(r, body),
                    };
                    set_once(&mut senc, p, k, v)?
                }
                Saiz::KIND => saiz.push(Saiz::decode_child(r, body)?),
                Saio::KIND => saio.push(Saio::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, rank);
        Ok(Traf {
            tfhd: required(tfhd, p, Tfhd::KIND)?,
            tfdt,
            truns,
            senc,
            saiz,
            saio,
            other,
        })
    }

    /// Decodes a whole `traf` box whose `senc` IVs are `per_sample_iv_size` bytes.
    pub fn decode_with_iv_size(buf: &[u8], per_sample_iv_size: u8) -> Result<Self> {
        decode_whole(buf, Self::KIND, |r| {
            Traf::decode_body_with_iv_size(r, Some(per_sample_iv_size))
        })
    }
}

/// The checks of [`Atom::decode`] around a body decoder that needs context.
pub(crate) fn decode_whole<T>(
    buf: &[u8],
    kind: FourCC,
    f: impl FnOnce(&mut Reader<'_>) -> Result<T>,
) -> Result<T> {
    let h = crate::BoxHeader::parse(buf)?;
    if h.kind != kind {
        return Err(crate::Error::WrongKind {
            expected: kind,
            found: h.kind,
        });
    }
    if h.size != buf.len() as u64 {
        return Err(crate::Error::InvalidSize {
            kind: h.kind,
            size: h.size,
        });
    }
    let mut r = Reader::for_box(
        kind,
        buf.get(usize::from(h.header_len)..).unwrap_or_default(),
    );
    let v = f(&mut r)?;
    r.expect_empty()?;
    Ok(v)
}

impl Atom for Traf {
    const KIND: FourCC = FourCC::TRAF;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Traf::decode_body_with_iv_size(r, None)
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let mut w = OtherWriter::new(&self.other, rank);
        w.before(R_TFHD, out)?;
        self.tfhd.encode(out)?;
        if let Some(t) = &self.tfdt {
            w.before(R_TFDT, out)?;
            t.encode(out)?;
        }
        w.before(R_TRUN, out)?;
        for t in &self.truns {
            t.encode(out)?;
        }
        w.before(R_SAIZ, out)?;
        for s in &self.saiz {
            s.encode(out)?;
        }
        w.before(R_SAIO, out)?;
        for s in &self.saio {
            s.encode(out)?;
        }
        if let Some(s) = &self.senc {
            w.before(R_SENC, out)?;
            s.encode(out)?;
        }
        w.finish(out)
    }
}
