//! Expands a progressive `stbl` (ISO/IEC 14496-12 §8.5–§8.7) into one record
//! per sample: file offset, size, decode time, duration, composition offset,
//! sync flag and sample description.
//!
//! Untrusted tables disagree in every possible way, so each one is checked
//! against the others: the output is sized only by the `stsz`/`stz2` sample
//! count, which is bounded by that box's real length (one entry per sample,
//! or a constant size — then by the number of samples the chunks can hold,
//! which `stts` must match); decode times must not overflow; `stsc` runs must
//! start at increasing chunks that exist; `stts`/`ctts` must cover exactly
//! the samples there are.

use crate::{Error, FourCC, Result, Stbl};

/// Most samples accepted from an `stsz` with a constant sample size, whose
/// count is not backed by a table: 2^22 (about 160 MiB of [`Sample`]s, a day
/// of 48 fps video). A table-backed count is bounded by the table itself.
pub const MAX_CONSTANT_SIZE_SAMPLES: u64 = 1 << 22;

/// One sample of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Byte offset in the file.
    pub offset: u64,
    pub size: u32,
    /// Decode time in media timescale units.
    pub dts: u64,
    pub duration: u32,
    /// CTS - DTS.
    pub cts_offset: i32,
    pub is_sync: bool,
    /// 1-based index into `stsd`.
    pub description_index: u32,
}

enum Sizes<'a> {
    Constant(u32, u64),
    Table32(&'a [u32]),
    Table16(&'a [u16]),
}

impl Sizes<'_> {
    fn count(&self) -> u64 {
        match self {
            Sizes::Constant(_, n) => *n,
            Sizes::Table32(t) => t.len() as u64,
            Sizes::Table16(t) => t.len() as u64,
        }
    }
    fn get(&self, i: usize) -> u32 {
        match self {
            Sizes::Constant(s, _) => *s,
            Sizes::Table32(t) => t.get(i).copied().unwrap_or(0),
            Sizes::Table16(t) => t.get(i).copied().map_or(0, u32::from),
        }
    }
}

fn mismatch(kind: FourCC, field: &'static str, expected: u64, found: u64) -> Error {
    Error::Mismatch {
        kind,
        field,
        expected,
        found,
    }
}

/// Expands the sample table. A track with no samples gives an empty list.
pub fn samples(stbl: &Stbl) -> Result<Vec<Sample>> {
    let sizes = match (&stbl.stsz, &stbl.stz2) {
        (Some(_), Some(_)) => {
            return Err(Error::DuplicateBox {
                parent: FourCC::STBL,
                child: FourCC::STZ2,
            });
        }
        (Some(z), None) if z.sample_size != 0 => {
            if u64::from(z.sample_count) > MAX_CONSTANT_SIZE_SAMPLES {
                return Err(Error::TooLarge {
                    kind: FourCC::STSZ,
                    field: "sample_count (constant sample size)",
                });
            }
            Sizes::Constant(z.sample_size, u64::from(z.sample_count))
        }
        (Some(z), None) => {
            if z.sizes.len() as u64 != u64::from(z.sample_count) {
                return Err(mismatch(
                    FourCC::STSZ,
                    "sample_count",
                    z.sizes.len() as u64,
                    u64::from(z.sample_count),
                ));
            }
            Sizes::Table32(&z.sizes)
        }
        (None, Some(z)) => Sizes::Table16(&z.sizes),
        (None, None) => {
            return Err(Error::MissingBox {
                parent: FourCC::STBL,
                child: FourCC::STSZ,
            });
        }
    };
    let offsets: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(_), Some(_)) => {
            return Err(Error::DuplicateBox {
                parent: FourCC::STBL,
                child: FourCC::CO64,
            });
        }
        (Some(c), None) => c.offsets.iter().map(|&o| u64::from(o)).collect(),
        (None, Some(c)) => c.offsets.clone(),
        (None, None) => {
            return Err(Error::MissingBox {
                parent: FourCC::STBL,
                child: FourCC::STCO,
            });
        }
    };
    let chunk_kind = if stbl.co64.is_some() {
        FourCC::CO64
    } else {
        FourCC::STCO
    };
    let count = sizes.count();

    // stts must cover exactly `count` samples. Checked before allocating, so a
    // constant-size stsz claiming 4e9 samples fails here unless stts agrees
    // (and then the chunks must hold them too, checked next).
    let stts_total = stbl
        .stts
        .entries
        .iter()
        .map(|(c, _)| u64::from(*c))
        .sum::<u64>();
    if stts_total != count {
        return Err(mismatch(
            FourCC::STTS,
            "total sample_count",
            count,
            stts_total,
        ));
    }
    if let Some(ctts) = &stbl.ctts {
        let total = ctts.entries.iter().map(|(c, _)| u64::from(*c)).sum::<u64>();
        if total != count {
            return Err(mismatch(FourCC::CTTS, "total sample_count", count, total));
        }
    }

    // stsc: runs of chunks. Count the samples the chunks hold before allocating.
    let stsc = &stbl.stsc.entries;
    let n_chunks = offsets.len() as u64;
    let mut held: u64 = 0;
    for (i, e) in stsc.iter().enumerate() {
        let first = u64::from(e.first_chunk);
        if first == 0 || first > n_chunks {
            return Err(Error::Invalid {
                kind: FourCC::STSC,
                field: "first_chunk (out of range)",
            });
        }
        let end = match stsc.get(i + 1) {
            Some(next) if u64::from(next.first_chunk) <= first => {
                return Err(Error::Invalid {
                    kind: FourCC::STSC,
                    field: "first_chunk (not increasing)",
                });
            }
            Some(next) => u64::from(next.first_chunk),
            None => n_chunks + 1,
        };
        held = held.saturating_add((end - first).saturating_mul(u64::from(e.samples_per_chunk)));
    }
    if stsc.first().is_some_and(|e| e.first_chunk != 1) {
        return Err(Error::Invalid {
            kind: FourCC::STSC,
            field: "first_chunk (first run must start at 1)",
        });
    }
    // The last chunk may be partly used by writers that pre-allocate, but it
    // must not be short.
    if held < count {
        return Err(mismatch(FourCC::STSC, "samples in chunks", count, held));
    }
    // `count` is now bounded by both the sizes table and the chunk table,
    // whose lengths are bounded by their boxes' real lengths.
    let count_usize = usize::try_from(count).map_err(|_| Error::TooLarge {
        kind: FourCC::STSZ,
        field: "sample_count",
    })?;
    let mut out = Vec::with_capacity(count_usize);

    let mut stts = stbl
        .stts
        .entries
        .iter()
        .flat_map(|&(c, d)| std::iter::repeat_n(d, c as usize));
    let mut ctts = stbl
        .ctts
        .iter()
        .flat_map(|c| c.entries.iter())
        .flat_map(|&(c, o)| std::iter::repeat_n(o, c as usize));
    let mut dts: u64 = 0;
    let mut index: usize = 0;
    'runs: for (i, e) in stsc.iter().enumerate() {
        let end = stsc
            .get(i + 1)
            .map_or(n_chunks + 1, |n| u64::from(n.first_chunk));
        for chunk in u64::from(e.first_chunk)..end {
            let mut offset = *offsets.get((chunk - 1) as usize).ok_or(Error::Invalid {
                kind: chunk_kind,
                field: "chunk index",
            })?;
            for _ in 0..e.samples_per_chunk {
                if index >= count_usize {
                    break 'runs;
                }
                let size = sizes.get(index);
                let duration = stts.next().unwrap_or(0);
                let cts_offset = ctts.next().unwrap_or(0);
                out.push(Sample {
                    offset,
                    size,
                    dts,
                    duration,
                    cts_offset,
                    is_sync: stbl.stss.is_none(),
                    description_index: e.sample_description_index,
                });
                offset = offset.checked_add(u64::from(size)).ok_or(Error::Invalid {
                    kind: chunk_kind,
                    field: "chunk offset + size overflows",
                })?;
                dts = dts.checked_add(u64::from(duration)).ok_or(Error::Invalid {
                    kind: FourCC::STTS,
                    field: "decode time overflows",
                })?;
                index += 1;
            }
        }
    }
    if let Some(stss) = &stbl.stss {
        let mut prev = 0u32;
        for &n in &stss.samples {
            if n <= prev {
                return Err(Error::Invalid {
                    kind: FourCC::STSS,
                    field: "sample_number (not increasing)",
                });
            }
            prev = n;
            match out.get_mut((n as usize).wrapping_sub(1)) {
                Some(s) => s.is_sync = true,
                None => {
                    return Err(Error::Invalid {
                        kind: FourCC::STSS,
                        field: "sample_number (out of range)",
                    });
                }
            }
        }
    }
    let n_desc = stbl.stsd.entries.len() as u64;
    if out
        .iter()
        .any(|s| s.description_index == 0 || u64::from(s.description_index) > n_desc)
    {
        return Err(Error::Invalid {
            kind: FourCC::STSC,
            field: "sample_description_index (out of range)",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AudioSampleEntry, Co64, Ctts, SampleEntry, Stco, Stsc, StscEntry, Stsd, Stss, Stsz, Stts,
        Stz2,
    };

    fn stbl() -> Stbl {
        Stbl {
            stsd: Stsd {
                entries: vec![SampleEntry::Audio(AudioSampleEntry::new(
                    FourCC::MP4A,
                    2,
                    48000,
                ))],
            },
            stts: Stts {
                entries: vec![(4, 1024), (1, 512)],
            },
            ctts: Some(Ctts {
                version: 0,
                entries: vec![(2, 0), (3, 1024)],
            }),
            stsc: Stsc {
                entries: vec![
                    StscEntry {
                        first_chunk: 1,
                        samples_per_chunk: 2,
                        sample_description_index: 1,
                    },
                    StscEntry {
                        first_chunk: 2,
                        samples_per_chunk: 3,
                        sample_description_index: 1,
                    },
                ],
            },
            stsz: Some(Stsz {
                sample_size: 0,
                sample_count: 5,
                sizes: vec![10, 20, 30, 40, 50],
            }),
            stz2: None,
            stco: Some(Stco {
                offsets: vec![1000, 5000],
            }),
            co64: None,
            stss: Some(Stss {
                samples: vec![1, 4],
            }),
            other: vec![],
        }
    }

    #[test]
    fn expands_tables() {
        let s = samples(&stbl()).unwrap();
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.offset, s.size, s.dts, s.duration, s.cts_offset, s.is_sync))
            .collect();
        assert_eq!(
            got,
            vec![
                (1000, 10, 0, 1024, 0, true),
                (1010, 20, 1024, 1024, 0, false),
                (5000, 30, 2048, 1024, 1024, false),
                (5030, 40, 3072, 1024, 1024, true),
                (5070, 50, 4096, 512, 1024, false),
            ]
        );
        // stz2 and co64 give the same samples.
        let mut t = stbl();
        t.stsz = None;
        t.stz2 = Some(Stz2 {
            field_size: 8,
            sizes: vec![10, 20, 30, 40, 50],
        });
        t.co64 = Some(Co64 {
            offsets: vec![1000, 5000],
        });
        t.stco = None;
        assert_eq!(samples(&t).unwrap(), s);
        // No stss: every sample is a sync sample.
        t.stss = None;
        assert!(samples(&t).unwrap().iter().all(|s| s.is_sync));
    }

    #[test]
    fn inconsistent_tables_fail() {
        type Case = (&'static str, Box<dyn Fn(&mut Stbl)>);
        let cases: Vec<Case> = vec![
            ("stts short", Box::new(|t| t.stts.entries[1].0 = 0)),
            (
                "ctts long",
                Box::new(|t| t.ctts.as_mut().unwrap().entries[0].0 = 3),
            ),
            (
                "stsc not increasing",
                Box::new(|t| t.stsc.entries[1].first_chunk = 1),
            ),
            (
                "stsc past chunks",
                Box::new(|t| t.stsc.entries[1].first_chunk = 3),
            ),
            ("stsc zero", Box::new(|t| t.stsc.entries[0].first_chunk = 0)),
            (
                "chunks too small",
                Box::new(|t| t.stsc.entries[1].samples_per_chunk = 2),
            ),
            (
                "stss range",
                Box::new(|t| t.stss.as_mut().unwrap().samples = vec![6]),
            ),
            (
                "stss order",
                Box::new(|t| t.stss.as_mut().unwrap().samples = vec![4, 1]),
            ),
            (
                "sdi",
                Box::new(|t| t.stsc.entries[0].sample_description_index = 2),
            ),
            ("no stco", Box::new(|t| t.stco = None)),
            ("no stsz", Box::new(|t| t.stsz = None)),
            (
                "stsz count",
                Box::new(|t| t.stsz.as_mut().unwrap().sample_count = 6),
            ),
        ];
        for (name, f) in cases {
            let mut t = stbl();
            f(&mut t);
            assert!(samples(&t).is_err(), "{name}");
        }
        let mut t = stbl();
        t.stco = None;
        t.co64 = Some(Co64 {
            offsets: vec![1000, u64::MAX - 10],
        });
        assert!(samples(&t).is_err());
    }

    #[test]
    fn absurd_constant_size_count_does_not_allocate() {
        // The attack: a 100-byte moov whose constant-size stsz claims 4e9
        // samples, with stts and stsc agreeing, would make us allocate 160 GB.
        let mut t = stbl();
        t.stsz = Some(Stsz {
            sample_size: 1,
            sample_count: 4_000_000_000,
            sizes: vec![],
        });
        t.stts.entries = vec![(4_000_000_000, 1)];
        t.stsc.entries = vec![StscEntry {
            first_chunk: 1,
            samples_per_chunk: 4_000_000_000,
            sample_description_index: 1,
        }];
        t.ctts = None;
        t.stss = None;
        assert!(matches!(samples(&t), Err(Error::TooLarge { kind, .. }) if kind == FourCC::STSZ));
        // Under the cap, chunks that cannot hold the samples fail before allocating.
        t.stsz = Some(Stsz {
            sample_size: 1,
            sample_count: 1 << 22,
            sizes: vec![],
        });
        t.stts.entries = vec![(1 << 22, 1)];
        t.stsc = stbl().stsc;
        assert!(matches!(samples(&t), Err(Error::Mismatch { kind, .. }) if kind == FourCC::STSC));
    }

    #[test]
    fn empty_track() {
        let mut t = stbl();
        t.stts.entries.clear();
        t.ctts = None;
        t.stss = None;
        t.stsc.entries.clear();
        t.stsz = Some(Stsz::default());
        t.stco = Some(Stco::default());
        assert_eq!(samples(&t).unwrap(), vec![]);
    }
}
