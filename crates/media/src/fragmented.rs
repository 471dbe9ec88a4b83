//! The samples of a fragmented MP4 (ISO/IEC 14496-12 §8.8; CMAF track files,
//! ISO/IEC 23000-19 §7), as the same [`Sample`] records a progressive file's
//! sample tables give, so that planning, CMAF writing and encryption do not
//! know which kind of input they read.
//!
//! After `moov` (whose `mvex` announces fragments, §8.8.1) the top-level boxes
//! are walked by their headers; each `moof` (§8.8.4) is read into memory (a
//! few KB) and every `traf/trun` (§8.8.6, §8.8.8) of it expands to one record
//! per sample. Sample data stays in the file. Per sample:
//!
//! - **offset**: the run's `data_offset` added to the base data offset
//!   (§8.8.7.1): `tfhd.base_data_offset` when present, else the start of the
//!   `moof` under default-base-is-moof, else the start of the `moof` for its
//!   first `traf` and the end of the preceding `traf`'s data for the others.
//!   A run without `data_offset` follows the previous run of its `traf`
//!   (§8.8.8.1).
//! - **size, duration, flags**: the `trun` field, else (flags of the first
//!   sample only) `first_sample_flags`, else the `tfhd` default, else the
//!   `trex` default (§8.8.3).
//! - **sync**: `sample_is_non_sync_sample` (bit 0x0001_0000 of the sample
//!   flags, §8.8.3.1) is clear.
//! - **dts**: `tfdt.baseMediaDecodeTime` (§8.8.12) for the first sample of a
//!   `traf`, else the running sum of durations. When a `tfdt` does not meet
//!   the previous sample's end, that sample's duration is set to reach it,
//!   so the list keeps every decode time of the input exactly (the output
//!   derives decode times from durations within a segment).
//! - **description_index**: `tfhd`, else `trex`.
//!
//! Encrypted fragments (`senc`, `saiz`, `saio`; ISO/IEC 23001-7 §7) are
//! refused. Every failure names the file, the box and the offset where it
//! starts: a broken input in a 2 GB file must be findable with a box dump.
//! Lengths in the input never size an allocation before the bytes are known
//! to exist: a `moof` is refused past [`MAX_MOOF`], and samples that no
//! `trun` record backs (every field from defaults) are capped file-wide.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bmff::sample_table::{MAX_CONSTANT_SIZE_SAMPLES, Sample};
use bmff::{Atom, BoxHeader, FourCC, Moof, Moov, Traf, Trex, Trun, TrunSample};

use crate::error::{Error, Result};

/// A `moof` holds a few KB of sample records per fragment; past this size
/// it is an attack on memory (64 MiB of 16-byte records is 4 million
/// samples, a day of 48 fps video in one fragment).
pub const MAX_MOOF: u64 = 64 << 20;

/// Most samples accepted, over the whole file, from `trun`s with no
/// per-sample fields (all from defaults): such samples cost no input bytes,
/// so only a cap stops a few small `moof`s from claiming billions. The same
/// bound as a constant-size `stsz` (a day of 48 fps video).
pub const MAX_UNRECORDED_SAMPLES: u64 = MAX_CONSTANT_SIZE_SAMPLES;

/// `sample_is_non_sync_sample` in the sample flags (§8.8.3.1).
const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;

/// The input file, for reads and for naming it in errors. A fragment
/// already in memory ([`fragment_samples`]) has no file: its `len` bounds
/// the sample offsets and `path` names the stream in errors.
pub(crate) struct Input<'a> {
    pub path: &'a Path,
    pub file: Option<&'a File>,
    pub len: u64,
}

impl Input<'_> {
    fn error(&self, kind: FourCC, offset: u64, message: impl Into<String>) -> Error {
        Error::Malformed { path: self.path.to_owned(), kind, offset, message: message.into() }
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let file = self.file.ok_or_else(|| self.error(FourCC::UNKNOWN, pos, "not a file"))?;
        file.read_exact_at(buf, pos).map_err(|e| Error::io(self.path, e))
    }

    /// The header of the top-level box at `pos`, checked to fit in the file;
    /// its size is resolved (0 means "to the end of the file").
    pub(crate) fn top_box(&self, pos: u64) -> Result<BoxHeader> {
        let mut head = [0u8; 32];
        let n = (self.len.saturating_sub(pos)).min(32) as usize;
        self.read_at(pos, &mut head[..n])?;
        let kind = head.get(4..8).and_then(|k| <[u8; 4]>::try_from(k).ok()).map_or(FourCC::UNKNOWN, FourCC);
        let mut header = BoxHeader::parse(&head[..n]).map_err(|e| self.error(kind, pos, e.to_string()))?;
        if header.size == n as u64 && head[..4] == [0, 0, 0, 0] {
            header.size = self.len - pos;
        }
        if pos.checked_add(header.size).is_none_or(|end| end > self.len) {
            return Err(self.error(
                kind,
                pos,
                format!("size {} runs past the end of the file ({} bytes)", header.size, self.len),
            ));
        }
        Ok(header)
    }
}

/// A track whose samples are kept: the list fragments extend, and its `trex`.
struct TrackState<'a> {
    id: u32,
    samples: &'a mut Vec<Sample>,
    trex: Option<&'a Trex>,
}

/// Appends the samples of every `moof` after offset `from` (the end of
/// `moov`) to `tracks` (track id, samples so far from the sample tables).
/// `trafs` of the other tracks declared in `moov` are read (their data
/// position the next `traf`'s) but their samples dropped; a `traf` of a track
/// `moov` does not declare is an error. Returns the number of `moof`s.
pub(crate) fn append_fragments(
    input: &Input<'_>,
    moov: &Moov,
    from: u64,
    tracks: &mut [(u32, Vec<Sample>)],
) -> Result<usize> {
    let trex: &[Trex] = moov.mvex.as_ref().map_or(&[], |m| &m.trex);
    let mut states: Vec<TrackState<'_>> = tracks
        .iter_mut()
        .map(|(id, samples)| TrackState { id: *id, samples, trex: trex.iter().find(|t| t.track_id == *id) })
        .collect();
    let mut unrecorded = 0u64;
    let mut moofs = 0usize;
    let mut pos = from;
    while pos < input.len {
        let header = input.top_box(pos)?;
        match &header.kind.0 {
            b"moof" => {
                if header.size > MAX_MOOF {
                    return Err(input.error(header.kind, pos, format!("{} bytes (limit {MAX_MOOF})", header.size)));
                }
                let mut buf = vec![0u8; header.size as usize];
                input.read_at(pos, &mut buf)?;
                let fragment = Fragment { input, moov, trex, pos, bytes: &buf };
                fragment.append(&mut states, &mut unrecorded)?;
                moofs += 1;
            }
            b"moov" => return Err(input.error(header.kind, pos, "a second moov")),
            _ => {}
        }
        pos += header.size;
    }
    Ok(moofs)
}

/// The samples of one `moof` + `mdat` held in memory (`bytes`, the `moof`
/// first; live ingest receives them so), appended to `tracks` (track id,
/// samples so far) as [`append_fragments`] does for a file: sample offsets
/// are into `bytes`, checked to lie inside it. `name` names the stream in
/// errors.
pub(crate) fn fragment_samples(
    name: &Path,
    moov: &Moov,
    bytes: &[u8],
    moof_len: usize,
    tracks: &mut [(u32, Vec<Sample>)],
) -> Result<()> {
    let input = Input { path: name, file: None, len: bytes.len() as u64 };
    let trex: &[Trex] = moov.mvex.as_ref().map_or(&[], |m| &m.trex);
    let mut states: Vec<TrackState<'_>> = tracks
        .iter_mut()
        .map(|(id, samples)| TrackState { id: *id, samples, trex: trex.iter().find(|t| t.track_id == *id) })
        .collect();
    let moof = bytes.get(..moof_len).ok_or_else(|| input.error(FourCC::MOOF, 0, "shorter than its header says"))?;
    let fragment = Fragment { input: &input, moov, trex, pos: 0, bytes: moof };
    // Every sample of a live fragment is in its own mdat: the per-file cap
    // on unrecorded samples is per fragment here.
    fragment.append(&mut states, &mut 0)
}

/// One `moof` read into memory.
struct Fragment<'a> {
    input: &'a Input<'a>,
    moov: &'a Moov,
    trex: &'a [Trex],
    /// File offset of the `moof`.
    pos: u64,
    bytes: &'a [u8],
}

/// File offsets of a `traf` and of its `trun`s, for error messages.
struct TrafAt {
    traf: u64,
    truns: Vec<u64>,
}

/// Default field values of a `traf`: `tfhd`, then `trex`.
struct Defaults {
    size: Option<u32>,
    duration: Option<u32>,
    flags: Option<u32>,
}

impl Fragment<'_> {
    fn error(&self, kind: FourCC, offset: u64, message: impl Into<String>) -> Error {
        self.input.error(kind, offset, message)
    }

    /// The offsets of the `traf`s and `trun`s, in the order `Moof::decode`
    /// lists them (it keeps `traf`s and, inside each, `trun`s in file order).
    fn offsets(&self) -> Vec<TrafAt> {
        let mut out = Vec::new();
        let Ok(header) = BoxHeader::parse(self.bytes) else { return out };
        let body = self.bytes.get(usize::from(header.header_len)..).unwrap_or_default();
        let mut at = self.pos + u64::from(header.header_len);
        for child in bmff::iter_boxes(body) {
            let Ok((h, traf_body)) = child else { break };
            if h.kind == FourCC::TRAF {
                let mut truns = Vec::new();
                let mut inner = at + u64::from(h.header_len);
                for grandchild in bmff::iter_boxes(traf_body) {
                    let Ok((g, _)) = grandchild else { break };
                    if g.kind == FourCC::TRUN {
                        truns.push(inner);
                    }
                    inner += g.size;
                }
                out.push(TrafAt { traf: at, truns });
            }
            at += h.size;
        }
        out
    }

    fn append(&self, states: &mut [TrackState<'_>], unrecorded: &mut u64) -> Result<()> {
        let moof = Moof::decode(self.bytes).map_err(|e| self.error(FourCC::MOOF, self.pos, e.to_string()))?;
        let offsets = self.offsets();
        // Without base-data-offset or default-base-is-moof, the first traf's
        // base is the moof and each next one's the end of the previous data.
        let mut data_end = self.pos;
        let unknown = TrafAt { traf: self.pos, truns: Vec::new() };
        for (i, traf) in moof.trafs.iter().enumerate() {
            let at = offsets.get(i).unwrap_or(&unknown);
            let id = traf.tfhd.track_id;
            if traf.senc.is_some() || !traf.saiz.is_empty() || !traf.saio.is_empty() {
                return Err(Error::Unsupported(format!(
                    "{}: encrypted fragmented input (track {id}, 'traf' at offset {})",
                    self.input.path.display(),
                    at.traf
                )));
            }
            let kept = states.iter_mut().position(|s| s.id == id);
            if kept.is_none() && !self.moov.traks.iter().any(|t| t.tkhd.track_id == id) {
                return Err(self.error(FourCC::TRAF, at.traf, format!("track {id} is not in moov")));
            }
            let mut scratch = Vec::new();
            let (samples, trex) = match kept.and_then(|k| states.get_mut(k)) {
                Some(state) => (&mut *state.samples, state.trex),
                None => (&mut scratch, self.trex.iter().find(|t| t.track_id == id)),
            };
            data_end = self.append_traf(traf, at, trex, data_end, samples, unrecorded)?;
        }
        Ok(())
    }

    /// Appends the samples of one `traf`; returns the end of its data.
    fn append_traf(
        &self,
        traf: &Traf,
        at: &TrafAt,
        trex: Option<&Trex>,
        previous_end: u64,
        samples: &mut Vec<Sample>,
        unrecorded: &mut u64,
    ) -> Result<u64> {
        let tfhd = &traf.tfhd;
        let id = tfhd.track_id;
        let base = match (tfhd.base_data_offset, tfhd.default_base_is_moof) {
            (Some(b), _) => b,
            (None, true) => self.pos,
            (None, false) => previous_end,
        };
        let description_index =
            tfhd.sample_description_index.or(trex.map(|t| t.default_sample_description_index)).ok_or_else(|| {
                self.error(FourCC::TFHD, at.traf, format!("track {id}: no sample description index in tfhd or trex"))
            })?;
        let defaults = Defaults {
            size: tfhd.default_sample_size.or(trex.map(|t| t.default_sample_size)),
            duration: tfhd.default_sample_duration.or(trex.map(|t| t.default_sample_duration)),
            flags: tfhd.default_sample_flags.or(trex.map(|t| t.default_sample_flags)),
        };
        let mut dts = match (&traf.tfdt, samples.last_mut()) {
            (Some(tfdt), Some(last)) => {
                let t = tfdt.base_media_decode_time;
                // A tfdt that does not meet the previous sample's end (a
                // gap, or an overlap of a few ticks from rounding) moves that
                // end: decode times are kept, the previous duration follows.
                let duration = t
                    .checked_sub(last.dts)
                    .filter(|&d| d > 0)
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(|| {
                        self.error(
                            FourCC::TFDT,
                            at.traf,
                            format!("track {id}: decode time {t} is not after the previous sample's ({})", last.dts),
                        )
                    })?;
                last.duration = duration;
                t
            }
            (Some(tfdt), None) => tfdt.base_media_decode_time,
            (None, Some(last)) => last
                .dts
                .checked_add(u64::from(last.duration))
                .ok_or_else(|| self.error(FourCC::TRAF, at.traf, format!("track {id}: decode time overflows")))?,
            (None, None) => 0,
        };
        let mut run_end = base;
        for (r, trun) in traf.truns.iter().enumerate() {
            let trun_at = at.truns.get(r).copied().unwrap_or(at.traf);
            if trun.samples.first().is_some_and(|s| *s == TrunSample::default()) {
                *unrecorded = unrecorded.saturating_add(trun.samples.len() as u64);
                if *unrecorded > MAX_UNRECORDED_SAMPLES {
                    return Err(self.error(
                        FourCC::TRUN,
                        trun_at,
                        format!(
                            "track {id}: more than {MAX_UNRECORDED_SAMPLES} samples without per-sample fields in the file"
                        ),
                    ));
                }
            }
            let start = match trun.data_offset {
                Some(d) => base.checked_add_signed(i64::from(d)).ok_or_else(|| {
                    self.error(
                        FourCC::TRUN,
                        trun_at,
                        format!("track {id}: data_offset {d} from base data offset {base} is outside the file"),
                    )
                })?,
                None => run_end,
            };
            run_end = self.append_run(trun, trun_at, id, start, &defaults, description_index, &mut dts, samples)?;
        }
        Ok(run_end)
    }

    /// Appends the samples of one `trun` whose data starts at `start`;
    /// returns the end of its data.
    #[allow(clippy::too_many_arguments)]
    fn append_run(
        &self,
        trun: &Trun,
        trun_at: u64,
        id: u32,
        start: u64,
        defaults: &Defaults,
        description_index: u32,
        dts: &mut u64,
        samples: &mut Vec<Sample>,
    ) -> Result<u64> {
        let missing = |field: &str| {
            self.error(FourCC::TRUN, trun_at, format!("track {id}: no sample {field} in trun, tfhd or trex"))
        };
        let len = self.input.len;
        samples.reserve(trun.samples.len());
        let mut offset = start;
        for (i, s) in trun.samples.iter().enumerate() {
            let size = s.size.or(defaults.size).ok_or_else(|| missing("size"))?;
            let duration = s.duration.or(defaults.duration).ok_or_else(|| missing("duration"))?;
            let first_flags = if i == 0 { trun.first_sample_flags } else { None };
            let flags = s.flags.or(first_flags).or(defaults.flags).ok_or_else(|| missing("flags"))?;
            let end = offset.checked_add(u64::from(size)).filter(|&end| end <= len).ok_or_else(|| {
                self.error(
                    FourCC::TRUN,
                    trun_at,
                    format!(
                        "track {id}: sample {} of {} at offset {offset} ({size} bytes) runs past the end of the file ({len} bytes)",
                        i + 1,
                        trun.samples.len()
                    ),
                )
            })?;
            samples.push(Sample {
                offset,
                size,
                dts: *dts,
                duration,
                cts_offset: s.composition_time_offset.unwrap_or(0),
                is_sync: flags & SAMPLE_IS_NON_SYNC == 0,
                description_index,
            });
            *dts = dts
                .checked_add(u64::from(duration))
                .ok_or_else(|| self.error(FourCC::TRUN, trun_at, format!("track {id}: decode time overflows")))?;
            offset = end;
        }
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bmff::{Mfhd, Mvex, Tfdt, Tfhd, Trak};
    use std::io::Write;

    const DUR: u32 = 10;
    const SIZE: u32 = 4;

    fn trex(track_id: u32) -> Trex {
        Trex {
            track_id,
            default_sample_description_index: 1,
            default_sample_duration: DUR,
            default_sample_size: SIZE,
            default_sample_flags: 0x0101_0000,
        }
    }

    fn moov(ids: &[u32]) -> Moov {
        let mut m = Moov::default();
        for &id in ids {
            let mut t = Trak::default();
            t.tkhd.track_id = id;
            m.traks.push(t);
        }
        m.mvex = Some(Mvex { mehd: None, trex: ids.iter().map(|&id| trex(id)).collect(), other: Vec::new() });
        m
    }

    fn tfhd(track_id: u32) -> Tfhd {
        Tfhd { track_id, ..Default::default() }
    }

    /// A run of `n` samples whose fields all come from the defaults, except
    /// one size per sample when `sizes` is given.
    fn run(data_offset: Option<i32>, n: usize, sizes: Option<&[u32]>) -> Trun {
        let samples = (0..n).map(|i| TrunSample { size: sizes.map(|s| s[i]), ..Default::default() }).collect();
        Trun { version: 0, data_offset, first_sample_flags: None, samples }
    }

    fn traf(tfhd: Tfhd, tfdt: Option<u64>, truns: Vec<Trun>) -> Traf {
        Traf { tfhd, tfdt: tfdt.map(|t| Tfdt { version: 1, base_media_decode_time: t }), truns, ..Default::default() }
    }

    fn moof(seq: u32, trafs: Vec<Traf>) -> Moof {
        Moof { mfhd: Mfhd { sequence_number: seq }, trafs, ..Default::default() }
    }

    /// A 16-byte `free` box (standing in for `ftyp` + `moov`), then each
    /// `moof` followed by an `mdat` of `data` bytes. Returns the file and
    /// the offset of each `moof`.
    fn file(moofs: &[Moof], data: usize) -> (tempfile::NamedTempFile, Vec<u64>) {
        let mut bytes = vec![0, 0, 0, 16, b'f', b'r', b'e', b'e', 0, 0, 0, 0, 0, 0, 0, 0];
        let mut at = Vec::new();
        for m in moofs {
            at.push(bytes.len() as u64);
            m.encode(&mut bytes).expect("encode moof");
            bytes.extend_from_slice(&(8 + data as u32).to_be_bytes());
            bytes.extend_from_slice(b"mdat");
            bytes.resize(bytes.len() + data, 0xab);
        }
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(&bytes).expect("write");
        (f, at)
    }

    fn read(moofs: &[Moof], data: usize, moov: &Moov, ids: &[u32]) -> Result<Vec<(u32, Vec<Sample>)>> {
        let (f, _) = file(moofs, data);
        let len = f.as_file().metadata().expect("metadata").len();
        let input = Input { path: f.path(), file: Some(f.as_file()), len };
        let mut tracks: Vec<(u32, Vec<Sample>)> = ids.iter().map(|&id| (id, Vec::new())).collect();
        append_fragments(&input, moov, 0, &mut tracks)?;
        Ok(tracks)
    }

    fn moof_len(m: &Moof) -> i32 {
        m.to_bytes().expect("encode").len() as i32
    }

    fn offsets(samples: &[Sample]) -> Vec<u64> {
        samples.iter().map(|s| s.offset).collect()
    }

    /// §8.8.7.1 without base-data-offset or default-base-is-moof: the first
    /// traf's base is the moof, the next one's the end of the first's data;
    /// a run without data_offset follows the previous run.
    #[test]
    fn base_without_flags_chains_trafs_and_runs() {
        let mut m = moof(
            1,
            vec![
                traf(tfhd(1), Some(0), vec![run(Some(0), 2, None), run(None, 1, Some(&[7]))]),
                traf(tfhd(2), Some(0), vec![run(None, 1, None)]),
            ],
        );
        let data = moof_len(&m) + 8;
        m.trafs[0].truns[0].data_offset = Some(data);
        let tracks = read(&[m], 64, &moov(&[1, 2]), &[1, 2]).expect("read");
        let start = 16 + data as u64;
        assert_eq!(offsets(&tracks[0].1), vec![start, start + 4, start + 8]);
        assert_eq!(tracks[0].1[2].size, 7);
        assert_eq!(offsets(&tracks[1].1), vec![start + 15]);
    }

    #[test]
    fn default_base_is_moof_and_explicit_base() {
        let moof_tfhd = Tfhd { default_base_is_moof: true, ..tfhd(1) };
        let mut first = moof(1, vec![traf(moof_tfhd, None, vec![run(Some(0), 2, None)])]);
        let data = moof_len(&first) + 8;
        first.trafs[0].truns[0].data_offset = Some(data);
        let second_len = moof_len(&first) as u64 + 8 + 32;
        let explicit = Tfhd { base_data_offset: Some(16 + second_len), ..tfhd(1) };
        let mut second = moof(2, vec![traf(explicit, None, vec![run(Some(0), 1, None)])]);
        let data2 = moof_len(&second) + 8;
        second.trafs[0].truns[0].data_offset = Some(data2);
        let tracks = read(&[first, second], 32, &moov(&[1]), &[1]).expect("read");
        let s = &tracks[0].1;
        assert_eq!(offsets(s), vec![16 + data as u64, 20 + data as u64, 16 + second_len + data2 as u64]);
        // No tfdt: decode times run on from the previous fragment.
        assert_eq!(s.iter().map(|s| s.dts).collect::<Vec<_>>(), vec![0, 10, 20]);
    }

    /// Field precedence: trun, first_sample_flags, tfhd, trex (§8.8.3,
    /// §8.8.7, §8.8.8); sync is the clear non-sync bit.
    #[test]
    fn defaults_and_first_sample_flags() {
        let t = Tfhd { default_sample_duration: Some(3), sample_description_index: Some(1), ..tfhd(1) };
        let mut r = run(Some(0), 3, Some(&[1, 2, 3]));
        r.first_sample_flags = Some(0x0200_0000);
        r.samples[2].composition_time_offset = Some(-3);
        r.samples[1].composition_time_offset = Some(6);
        r.samples[0].composition_time_offset = Some(0);
        let mut m = moof(1, vec![traf(t, Some(100), vec![r])]);
        let data = moof_len(&m) + 8;
        m.trafs[0].truns[0].data_offset = Some(data);
        let tracks = read(&[m], 16, &moov(&[1]), &[1]).expect("read");
        let s = &tracks[0].1;
        assert_eq!(
            s.iter().map(|s| (s.size, s.duration, s.dts, s.cts_offset, s.is_sync)).collect::<Vec<_>>(),
            vec![(1, 3, 100, 0, true), (2, 3, 103, 6, false), (3, 3, 106, -3, false)]
        );
    }

    /// A tfdt after a gap keeps its decode time: the previous sample lasts
    /// until it. A tfdt that goes back is an error naming the box.
    #[test]
    fn tfdt_gap_and_going_back() {
        let make = |seq: u32, tfdt: u64| {
            let mut m = moof(
                seq,
                vec![traf(Tfhd { default_base_is_moof: true, ..tfhd(1) }, Some(tfdt), vec![run(Some(0), 1, None)])],
            );
            let data = moof_len(&m) + 8;
            m.trafs[0].truns[0].data_offset = Some(data);
            m
        };
        let tracks = read(&[make(1, 0), make(2, 25)], 8, &moov(&[1]), &[1]).expect("read");
        let s = &tracks[0].1;
        assert_eq!(s.iter().map(|s| (s.dts, s.duration)).collect::<Vec<_>>(), vec![(0, 25), (25, DUR)]);
        let err = read(&[make(1, 50), make(2, 50)], 8, &moov(&[1]), &[1]).expect_err("tfdt going back");
        assert!(matches!(&err, Error::Malformed { kind, .. } if *kind == FourCC::TFDT), "{err}");
    }

    /// A traf of a track moov has but the caller does not keep is read (its
    /// data positions the next traf) and dropped; one of a track moov does
    /// not have is an error.
    #[test]
    fn skipped_and_unknown_tracks() {
        let mut m = moof(
            1,
            vec![traf(tfhd(3), None, vec![run(Some(0), 1, None)]), traf(tfhd(1), None, vec![run(None, 1, None)])],
        );
        let data = moof_len(&m) + 8;
        m.trafs[0].truns[0].data_offset = Some(data);
        let tracks = read(&[m.clone()], 8, &moov(&[1, 3]), &[1]).expect("read");
        assert_eq!(offsets(&tracks[0].1), vec![16 + data as u64 + 4]);
        let err = read(&[m], 8, &moov(&[1]), &[1]).expect_err("unknown track");
        assert!(matches!(&err, Error::Malformed { kind, .. } if *kind == FourCC::TRAF), "{err}");
        assert!(err.to_string().contains("track 3 is not in moov"), "{err}");
    }

    /// Offsets near `u64::MAX` and runs past the end of the file are errors
    /// naming the trun, not overflows.
    #[test]
    fn offsets_that_overflow_or_leave_the_file() {
        for base in [u64::MAX - 2, u64::MAX, 1 << 40] {
            let t = Tfhd { base_data_offset: Some(base), ..tfhd(1) };
            let m = moof(1, vec![traf(t, None, vec![run(Some(i32::MAX), 2, None)])]);
            let err = read(&[m], 8, &moov(&[1]), &[1]).expect_err("offset outside the file");
            assert!(
                matches!(&err, Error::Malformed { kind, offset, .. } if *kind == FourCC::TRUN && *offset > 16),
                "{err}"
            );
        }
        let m = moof(
            1,
            vec![traf(Tfhd { default_base_is_moof: true, ..tfhd(1) }, Some(u64::MAX - 5), vec![run(Some(0), 2, None)])],
        );
        let err = read(&[m], 8, &moov(&[1]), &[1]).expect_err("decode time overflow");
        assert!(err.to_string().contains("decode time overflows"), "{err}");
    }

    #[test]
    fn encrypted_fragments_are_refused() {
        let mut t = traf(Tfhd { default_base_is_moof: true, ..tfhd(1) }, None, vec![run(Some(0), 1, None)]);
        t.saiz.push(bmff::Saiz { default_sample_info_size: 8, sample_count: 1, ..Default::default() });
        let err = read(&[moof(1, vec![t])], 8, &moov(&[1]), &[1]).expect_err("encrypted");
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
    }
}
