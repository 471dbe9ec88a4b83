//! `saiz` and `saio` (ISO/IEC 14496-12 §8.7.8, §8.7.9): sizes and offsets
//! of sample auxiliary information (for Common Encryption: the `senc`
//! records, ISO/IEC 23001-7 §7.1). Flag 1 adds aux_info_type and its
//! parameter.

use crate::atom::Atom;
use crate::reader::{Put, count_u32};
use crate::{Error, FourCC, Reader, Result};

fn read_aux(r: &mut Reader<'_>, flags: u32) -> Result<Option<(FourCC, u32)>> {
    if flags & 1 != 0 {
        Ok(Some((r.fourcc()?, r.u32()?)))
    } else {
        Ok(None)
    }
}

fn put_aux(out: &mut Vec<u8>, aux: &Option<(FourCC, u32)>) {
    if let Some((t, p)) = aux {
        out.put_fourcc(*t);
        out.put_u32(*p);
    }
}

/// Sample auxiliary information sizes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Saiz {
    pub aux_info: Option<(FourCC, u32)>,
    /// Size of every sample's info, or 0 when `sample_info_sizes` lists them.
    pub default_sample_info_size: u8,
    pub sample_count: u32,
    pub sample_info_sizes: Vec<u8>,
}

impl Atom for Saiz {
    const KIND: FourCC = FourCC::SAIZ;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (_, flags) = r.full_header()?;
        let aux_info = read_aux(r, flags)?;
        let default_sample_info_size = r.u8()?;
        let sample_count = r.u32()?;
        let sample_info_sizes = if default_sample_info_size == 0 {
            r.take_u64(u64::from(sample_count))?.to_vec()
        } else {
            Vec::new()
        };
        Ok(Saiz {
            aux_info,
            default_sample_info_size,
            sample_count,
            sample_info_sizes,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.default_sample_info_size == 0 {
            if self.sample_info_sizes.len() as u64 != u64::from(self.sample_count) {
                return Err(Error::Mismatch {
                    kind: Self::KIND,
                    field: "sample_count",
                    expected: self.sample_info_sizes.len() as u64,
                    found: u64::from(self.sample_count),
                });
            }
        } else if !self.sample_info_sizes.is_empty() {
            return Err(Error::Invalid {
                kind: Self::KIND,
                field: "sample_info_size (default is set)",
            });
        }
        out.put_full(0, u32::from(self.aux_info.is_some()));
        put_aux(out, &self.aux_info);
        out.put_u8(self.default_sample_info_size);
        out.put_u32(self.sample_count);
        out.extend_from_slice(&self.sample_info_sizes);
        Ok(())
    }
}

/// Sample auxiliary information offsets. On write, version 0 is raised to
/// 1 when an offset needs 64 bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Saio {
    pub version: u8,
    pub aux_info: Option<(FourCC, u32)>,
    pub offsets: Vec<u64>,
}

impl Atom for Saio {
    const KIND: FourCC = FourCC::SAIO;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.full_header()?;
        if version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version,
            });
        }
        let aux_info = read_aux(r, flags)?;
        let count = r.u32()?;
        let mut offsets =
            Vec::with_capacity(r.capacity_for(u64::from(count), if version == 0 { 4 } else { 8 }));
        for _ in 0..count {
            offsets.push(if version == 0 {
                u64::from(r.u32()?)
            } else {
                r.u64()?
            });
        }
        Ok(Saio {
            version,
            aux_info,
            offsets,
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.version > 1 {
            return Err(Error::UnsupportedVersion {
                kind: Self::KIND,
                version: self.version,
            });
        }
        let version = crate::atom::version_for(self.version, &self.offsets);
        out.put_full(version, u32::from(self.aux_info.is_some()));
        put_aux(out, &self.aux_info);
        out.put_u32(count_u32(Self::KIND, "entry_count", self.offsets.len())?);
        for o in &self.offsets {
            if version == 0 {
                out.put_u32(*o as u32);
            } else {
                out.put_u64(*o);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn saiz_roundtrip() {
        let s = Saiz {
            aux_info: Some((FourCC::CENC, 0)),
            default_sample_info_size: 0,
            sample_count: 3,
            sample_info_sizes: vec![16, 22, 16],
        };
        truncations_fail::<Saiz>(&roundtrip(&s));
        let d = Saiz {
            aux_info: None,
            default_sample_info_size: 8,
            sample_count: 100,
            sample_info_sizes: vec![],
        };
        truncations_fail::<Saiz>(&roundtrip(&d));
        assert!(Saiz::decode(b"\0\0\0\x11saiz\0\0\0\0\0\xff\xff\xff\xff").is_err());
    }

    #[test]
    fn saio_roundtrip() {
        let s = Saio {
            version: 0,
            aux_info: None,
            offsets: vec![1234],
        };
        truncations_fail::<Saio>(&roundtrip(&s));
        let s1 = Saio {
            version: 1,
            aux_info: Some((FourCC::CBCS, 0)),
            offsets: vec![u64::from(u32::MAX) + 1],
        };
        truncations_fail::<Saio>(&roundtrip(&s1));
    }
}
