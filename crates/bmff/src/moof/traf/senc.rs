//! `senc` (ISO/IEC 23001-7 §7.2): per-sample IVs and subsample maps of a
//! Common Encryption track fragment. Flag 0x2: subsamples present.
//!
//! The IV size is not in `senc` itself but in `tenc` (or a sample group),
//! so [`Senc::decode_with_iv_size`] takes it from the caller. The plain
//! [`Atom::decode`] infers it (0, 8 or 16) when exactly one size makes the
//! body parse to its end, and fails with [`Error::Invalid`] when none or
//! several do.

use crate::atom::Atom;
use crate::header::BoxHeader;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

/// Clear and protected byte counts of one subsample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// Encryption data of one sample. The IV is public (it travels in the clear).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SencSample {
    /// 0, 8 or 16 bytes.
    pub iv: Vec<u8>,
    pub subsamples: Vec<Subsample>,
}

/// Sample encryption box.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Senc {
    pub version: u8,
    /// 0x2 = subsamples present.
    pub flags: u32,
    pub samples: Vec<SencSample>,
}

const USE_SUBSAMPLES: u32 = 0x2;

fn decode_samples(r: &mut Reader<'_>, iv_size: u8, subs: bool) -> Result<Vec<SencSample>> {
    let count = r.u32()?;
    let record = usize::from(iv_size) + if subs { 2 } else { 0 };
    if record == 0 {
        r.charge_synthetic(u64::from(count), "sample_count")?;
    }
    let mut samples = Vec::with_capacity(if record == 0 {
        count as usize
    } else {
        r.capacity_for(u64::from(count), record)
    });
    for _ in 0..count {
        let iv = r.take(usize::from(iv_size))?.to_vec();
        let mut subsamples = Vec::new();
        if subs {
            let n = r.u16()?;
            subsamples.reserve_exact(r.capacity_for(u64::from(n), 6));
            for _ in 0..n {
                subsamples.push(Subsample {
                    clear: r.u16()?,
                    protected: r.u32()?,
                });
            }
        }
        samples.push(SencSample { iv, subsamples });
    }
    Ok(samples)
}

impl Senc {
    /// Decodes a whole `senc` box whose IVs are `per_sample_iv_size` bytes
    /// (from `tenc` or the sample group): 0, 8 or 16.
    pub fn decode_with_iv_size(buf: &[u8], per_sample_iv_size: u8) -> Result<Senc> {
        if !matches!(per_sample_iv_size, 0 | 8 | 16) {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "Per_Sample_IV_Size",
            });
        }
        let h = BoxHeader::parse(buf)?;
        if h.kind != Self::KIND {
            return Err(Error::WrongKind {
                expected: Self::KIND,
                found: h.kind,
            });
        }
        if h.size != buf.len() as u64 {
            return Err(Error::InvalidSize {
                kind: h.kind,
                size: h.size,
            });
        }
        let mut r = Reader::for_box(
            Self::KIND,
            buf.get(usize::from(h.header_len)..).unwrap_or_default(),
        );
        let v = Self::decode_body_with_iv_size(&mut r, per_sample_iv_size)?;
        r.expect_empty()?;
        Ok(v)
    }

    /// Decodes a `senc` body with a known IV size.
    pub fn decode_body_with_iv_size(r: &mut Reader<'_>, per_sample_iv_size: u8) -> Result<Senc> {
        let (version, flags) = r.full_header()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let samples = decode_samples(r, per_sample_iv_size, flags & USE_SUBSAMPLES != 0)?;
        Ok(Senc {
            version,
            flags,
            samples,
        })
    }

    /// The IV size used by the samples (0 when there are none).
    pub fn iv_size(&self) -> usize {
        self.samples.first().map_or(0, |s| s.iv.len())
    }
}

impl Atom for Senc {
    const KIND: FourCC = FourCC::SENC;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.full_header()?;
        if version != 0 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let subs = flags & USE_SUBSAMPLES != 0;
        let body = r.rest();
        if body.len() == 4 {
            // No samples (or samples with nothing in them): the size cannot matter.
            let mut t = r.child(Self::KIND, body)?;
            return Ok(Senc {
                version,
                flags,
                samples: decode_samples(&mut t, 0, subs)?,
            });
        }
        let mut found = None;
        for size in [0u8, 8, 16] {
            let mut t = r.child(Self::KIND, body)?;
            if let Ok(samples) = decode_samples(&mut t, size, subs)
                && t.is_empty()
            {
                if found.is_some() {
                    return Err(Error::Invalid {
                        kind: Self::KIND,
                        field: "Per_Sample_IV_Size (ambiguous)",
                    });
                }
                found = Some(samples);
            }
        }
        match found {
            Some(samples) => Ok(Senc {
                version,
                flags,
                samples,
            }),
            None => Err(Error::Invalid {
                kind: Self::KIND,
                field: "Per_Sample_IV_Size (no size fits)",
            }),
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        let iv_size = self.iv_size();
        if !matches!(iv_size, 0 | 8 | 16) || self.samples.iter().any(|s| s.iv.len() != iv_size) {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "IV sizes",
            });
        }
        let subs = self.flags & USE_SUBSAMPLES != 0;
        if !subs && self.samples.iter().any(|s| !s.subsamples.is_empty()) {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "subsamples without flag 0x2",
            });
        }
        out.put_full(self.version, self.flags);
        out.put_u32(count_u32(Self::KIND, "sample_count", self.samples.len())?);
        for s in &self.samples {
            out.extend_from_slice(&s.iv);
            if subs {
                let n = count_u32(Self::KIND, "subsample_count", s.subsamples.len())?;
                out.put_u16(u16::try_from(n).map_err(|_| Error::TooLarge {
                    kind: Self::KIND,
                    field: "subsample_count",
                })?);
                for sub in &s.subsamples {
                    out.put_u16(sub.clear);
                    out.put_u32(sub.protected);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    fn senc(iv: usize, subs: bool) -> Senc {
        let s = |i: u8| SencSample {
            iv: vec![i; iv],
            subsamples: if subs {
                vec![Subsample {
                    clear: 5,
                    protected: 1000 + u32::from(i),
                }]
            } else {
                vec![]
            },
        };
        Senc {
            version: 0,
            flags: if subs { 2 } else { 0 },
            samples: vec![s(1), s(2), s(3)],
        }
    }

    #[test]
    fn senc_roundtrip_with_iv_size() {
        for (iv, subs) in [(8, true), (16, true), (8, false), (16, false), (0, true)] {
            let s = senc(iv, subs);
            let b = s.to_bytes().unwrap();
            assert_eq!(Senc::decode_with_iv_size(&b, iv as u8).unwrap(), s);
            assert_eq!(
                Senc::decode_with_iv_size(&b, iv as u8)
                    .unwrap()
                    .to_bytes()
                    .unwrap(),
                b
            );
            for n in 8..b.len() {
                let mut t = (n as u32).to_be_bytes().to_vec();
                t.extend_from_slice(&b[4..n]);
                assert!(Senc::decode_with_iv_size(&t, iv as u8).is_err());
            }
        }
    }

    #[test]
    fn senc_infers_iv_size() {
        assert_eq!(
            Senc::decode(&senc(8, false).to_bytes().unwrap()).unwrap(),
            senc(8, false)
        );
        assert_eq!(
            Senc::decode(&senc(16, true).to_bytes().unwrap()).unwrap(),
            senc(16, true)
        );
        let empty = Senc {
            version: 0,
            flags: 2,
            samples: vec![],
        };
        roundtrip(&empty);
        // Garbage that fits no IV size.
        assert!(matches!(
            Senc::decode(b"\0\0\0\x13senc\0\0\0\0\0\0\0\x01abc"),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn senc_refuses_mixed_iv_sizes() {
        let mut s = senc(8, false);
        s.samples[1].iv = vec![0; 16];
        assert!(s.to_bytes().is_err());
    }
}
