//! Protection applied to clear CMAF: the same functions serve `castguard
//! package` (which writes the result to files) and the origin (which
//! encrypts a stored clear segment when a player asks for it).
//!
//! Common Encryption (ISO/IEC 23001-7): the init segment's sample entry
//! becomes `encv`/`enca` with a `sinf` (`frma`, `schm`, `schi`/`tenc`, §8)
//! and the `moov` carries a `pssh` per DRM system (§8.1); every media segment
//! has its samples encrypted in place and gets `senc` (§7.2) with `saiz` and
//! `saio` (ISO/IEC 14496-12 §8.7.8–9) pointing at it. HLS AES-128 (RFC 8216
//! §4.3.2.4) encrypts whole media segments and leaves the init segment clear.
//!
//! Everything is derived from (key id, track, segment number), never from a
//! random source or the clock, so the same request gives the same bytes and
//! CDNs can cache what the origin makes.

use bmff::{Atom, FourCC, Frma, Moof, Moov, Pssh, Saio, Saiz, SampleEntry, Schi, Schm, Senc, SencSample, Sinf, Tenc};
use cenc::{ContentKey, KeyId, SampleEncryptor, Scheme, SubsampleGenerator, TrackCrypto};

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};

/// DRM systems to signal in the init segment and manifests.
#[derive(Debug, Clone, Default)]
pub struct DrmSystems {
    pub widevine: bool,
    pub playready: bool,
    pub clearkey: bool,
    pub fairplay: bool,
    /// PlayReady license acquisition URL put into the PlayReady header.
    pub playready_la_url: Option<String>,
    /// Widevine `provider` field of the PSSH data.
    pub widevine_provider: Option<String>,
}

/// The `pssh` boxes for `kids` under `scheme`: W3C common (v1, with the
/// KIDs, what Clear Key reads), Widevine and PlayReady (v0 with the system's
/// own data). FairPlay has no PSSH; HLS signals it with `skd://` URIs.
pub fn pssh_boxes(kids: &[KeyId], scheme: Scheme, drm: &DrmSystems) -> Result<Vec<Pssh>> {
    let mut out = Vec::new();
    if drm.clearkey || drm.widevine || drm.playready {
        out.push(Pssh {
            version: 1,
            system_id: cenc::pssh::COMMON,
            kids: kids.iter().map(|k| k.0).collect(),
            data: Vec::new(),
        });
    }
    if drm.widevine {
        out.push(Pssh {
            version: 0,
            system_id: cenc::pssh::WIDEVINE,
            kids: Vec::new(),
            data: cenc::pssh::widevine_data(kids, drm.widevine_provider.as_deref(), None, scheme),
        });
    }
    if drm.playready {
        let version = match scheme {
            Scheme::Cenc if kids.len() == 1 => cenc::pssh::PlayReadyVersion::V4_0,
            _ => cenc::pssh::PlayReadyVersion::V4_3,
        };
        out.push(Pssh {
            version: 0,
            system_id: cenc::pssh::PLAYREADY,
            kids: Vec::new(),
            data: cenc::pssh::playready_object(kids, drm.playready_la_url.as_deref(), version, scheme)?,
        });
    }
    Ok(out)
}

/// Encrypts the samples of one track.
pub struct TrackProtector {
    /// The track's id in the source: it keeps the IVs of tracks that share
    /// a key apart (the boxes of CMAF output all say track 1).
    pub track_id: u32,
    pub kid: KeyId,
    pub crypto: TrackCrypto,
    encryptor: SampleEncryptor,
    sample_entry: SampleEntry,
    /// The subsample generator of the sample entry's parameter sets, made
    /// once (`None` if that failed: each segment then says why).
    generator: Option<SubsampleGenerator>,
    /// Plans of segments protected lately, by [`PlanKey`]: a segment
    /// served again (the common case at an origin) skips parsing every
    /// slice header and rebuilding its `moof`.
    plans: std::sync::Mutex<HashMap<PlanKey, Arc<SegmentPlan>>>,
}

/// Plans kept per track at most (a plan is a few KB: the `moof` and, per
/// sample, an IV and a subsample map); the map starts over when full. 32
/// covers a minute of 2 s segments, what players around one position ask
/// for.
const PLANS_KEPT: usize = 32;

/// What identifies a clear segment's plan: its length and, per `moof`,
/// where it lies and the [`segment_salt`] of its bytes and its samples'
/// edges. The salt tells the segments of one track apart (each has its
/// own sequence number and decode time in its `moof`); a plan is a pure
/// function of the segment's bytes, under the protector's key and scheme.
type PlanKey = (usize, Vec<(usize, usize, u64)>);

impl std::fmt::Debug for TrackProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackProtector").field("track_id", &self.track_id).field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl TrackProtector {
    /// From a track's clear sample entry (as in its init segment).
    pub fn new(track_id: u32, sample_entry: &SampleEntry, key: &ContentKey, scheme: Scheme) -> Result<Self> {
        let info = crate::codec::codec_info(track_id, sample_entry)?;
        let crypto = TrackCrypto::new(scheme, &info.cenc_codec, key.kid, track_id);
        Ok(TrackProtector {
            track_id,
            kid: key.kid,
            encryptor: SampleEncryptor::new(&key.key, &crypto),
            generator: crate::codec::subsample_generator(track_id, sample_entry, crypto.scheme).ok(),
            crypto,
            sample_entry: sample_entry.clone(),
            plans: Default::default(),
        })
    }

    fn generator(&self) -> Result<SubsampleGenerator> {
        match &self.generator {
            Some(g) => Ok(g.clone()),
            None => crate::codec::subsample_generator(self.track_id, &self.sample_entry, self.crypto.scheme),
        }
    }

    fn tenc(&self) -> Tenc {
        let pattern = self.crypto.pattern;
        Tenc {
            version: u8::from(pattern.crypt != 0 || pattern.skip != 0 || self.crypto.scheme == Scheme::Cbcs),
            default_crypt_byte_block: pattern.crypt,
            default_skip_byte_block: pattern.skip,
            default_is_protected: 1,
            default_per_sample_iv_size: self.crypto.per_sample_iv_size,
            default_kid: self.kid.0,
            default_constant_iv: self.crypto.constant_iv.map(|iv| iv.to_vec()),
        }
    }

    /// The protected sample entry: `encv`/`enca` with `sinf`.
    fn protected_entry(&self, entry: &SampleEntry) -> Result<SampleEntry> {
        let sinf = |original: FourCC| Sinf {
            frma: Frma { original_format: original },
            schm: Some(Schm { scheme_type: FourCC(self.crypto.scheme.fourcc()), scheme_version: 0x0001_0000, scheme_uri: None }),
            schi: Some(Schi { tenc: Some(self.tenc()), other: Vec::new() }),
            other: Vec::new(),
        };
        match entry {
            SampleEntry::Visual(v) => {
                let mut v = v.clone();
                let original = v.kind;
                v.kind = FourCC(*b"encv");
                v.sinf = vec![sinf(original)];
                Ok(SampleEntry::Visual(v))
            }
            SampleEntry::Audio(a) => {
                let mut a = a.clone();
                let original = a.kind;
                a.kind = FourCC(*b"enca");
                a.sinf = vec![sinf(original)];
                Ok(SampleEntry::Audio(a))
            }
            SampleEntry::Other(raw) => Err(Error::Unsupported(format!("track {}: cannot protect '{}'", self.track_id, raw.kind))),
        }
    }

    /// The protected init segment from the clear one.
    pub fn protect_init(&self, clear_init: &[u8], pssh: &[Pssh]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(clear_init.len() + 1024);
        for item in bmff::iter_boxes(clear_init) {
            let (header, body) = item?;
            let whole = whole_box(clear_init, body, header.header_len)?;
            if &header.kind.0 != b"moov" {
                out.extend_from_slice(whole);
                continue;
            }
            let mut moov = Moov::decode(whole)?;
            if moov.traks.len() != 1 {
                return Err(Error::Unsupported(format!("init segment with {} tracks (CMAF has one)", moov.traks.len())));
            }
            for trak in &mut moov.traks {
                for entry in &mut trak.mdia.minf.stbl.stsd.entries {
                    *entry = self.protected_entry(entry)?;
                }
            }
            moov.pssh = pssh.to_vec();
            moov.encode(&mut out)?;
        }
        Ok(out)
    }

    /// Protects a clear media segment in place: encrypts every sample of
    /// its `traf` and rewrites each `moof` with `senc`, `saiz` and `saio`
    /// (the rest of the buffer moves up; reserve room to avoid a
    /// reallocation, see [`crate::cmaf::PROTECTION_HEADROOM`]).
    pub fn protect_segment_in_place(&self, buf: &mut Vec<u8>) -> Result<()> {
        let at = self.protect_segment_at(buf, 0)?;
        buf.drain(..at);
        Ok(())
    }

    /// Protects the clear media segment `buf[start..]` in place and returns
    /// where the protected segment starts: `buf[returned..]`. What
    /// protection adds to each `moof` goes into the room in front of it
    /// (`start` bytes, see [`crate::cmaf::PROTECTION_FRONT`]), so the
    /// sample data, nearly all of the segment, is encrypted where it was
    /// read and never moves; with too little room, everything moves up
    /// once.
    pub fn protect_segment_at(&self, buf: &mut Vec<u8>, start: usize) -> Result<usize> {
        let clear = buf.get(start..).ok_or_else(|| Error::Segment(format!("segment starts at {start}, past the buffer's end")))?;
        let plan = self.plan(clear)?;
        let start = make_room(buf, start, plan.growth)?;
        for s in &plan.samples {
            let range = start + s.range.start..start + s.range.end;
            self.encryptor
                .encrypt(&s.key_iv, &mut buf[range], &s.subsamples)
                .map_err(|source| Error::Crypto { track: self.track_id, sample: s.index + 1, source })?;
        }
        Ok(lay_out(buf, start, &plan))
    }

    /// Protects the clear media segment `clear` into `out` (cleared
    /// first, its allocation reused) in one pass: each piece of `clear` is
    /// copied to where it lands in the protected segment and each sample is
    /// encrypted right after its copy, while it is still in the CPU's
    /// cache. `clear` may be the page cache itself (a mapped file, see
    /// [`crate::origin::OriginAsset::segment_into`]), so the segment's bytes
    /// are read from memory once, not copied by `read` and then passed over
    /// again by the cipher. The bytes are those of
    /// [`TrackProtector::protect_segment_at`].
    pub fn protect_segment_into(&self, clear: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let plan = self.plan(clear)?;
        out.clear();
        let want = clear.len().saturating_add(plan.growth);
        out.try_reserve(want).map_err(|_| Error::Segment(format!("{want} bytes do not fit in memory")))?;
        if !plan.in_order() {
            // Samples out of file order, or sharing bytes (legal in a
            // `trun`, never written by a packager): the in-place way,
            // which encrypts each range where it lies.
            out.extend_from_slice(clear);
            let at = self.protect_segment_at(out, 0)?;
            out.drain(..at);
            return Ok(());
        }
        // The pieces in order: replaced `moof`s and samples, what lies
        // between them copied as it is.
        let mut moofs = plan.moofs.iter().peekable();
        let mut src = 0usize;
        let copy_to = |out: &mut Vec<u8>, src: &mut usize, to: usize| -> Result<()> {
            let piece = clear.get(*src..to).ok_or_else(|| Error::Segment(format!("overlapping boxes or samples at byte {to}")))?;
            out.extend_from_slice(piece);
            *src = to;
            Ok(())
        };
        for s in &plan.samples {
            while let Some((start, end, bytes)) = moofs.next_if(|(start, _, _)| *start < s.range.start) {
                copy_to(out, &mut src, *start)?;
                out.extend_from_slice(bytes);
                src = *end;
            }
            copy_to(out, &mut src, s.range.start)?;
            let at = out.len();
            copy_to(out, &mut src, s.range.end)?;
            self.encryptor
                .encrypt(&s.key_iv, &mut out[at..], &s.subsamples)
                .map_err(|source| Error::Crypto { track: self.track_id, sample: s.index + 1, source })?;
        }
        for (start, end, bytes) in moofs {
            copy_to(out, &mut src, *start)?;
            out.extend_from_slice(bytes);
            src = *end;
        }
        copy_to(out, &mut src, clear.len())?;
        Ok(())
    }

    /// The size of the protected segment made from the clear media segment
    /// `clear`, worked out without encrypting (what a HEAD request is
    /// answered with).
    pub fn protected_len(&self, clear: &[u8]) -> Result<usize> {
        Ok(clear.len() + self.plan(clear)?.growth)
    }

    /// The layout protection gives a clear media segment, without
    /// encrypting: the boxes are those of the protected segment (`senc`,
    /// `saiz`, `saio`, moved sample data), the samples stay clear. Their
    /// sizes depend on the scheme and the samples, not on the key, so this
    /// tells where each sample of the protected segment lies (HLS I-frame
    /// playlists point at the key frame with a byte range).
    pub fn protected_layout(&self, mut clear: Vec<u8>) -> Result<Vec<u8>> {
        let plan = self.plan(&clear)?;
        let start = make_room(&mut clear, 0, plan.growth)?;
        let at = lay_out(&mut clear, start, &plan);
        clear.drain(..at);
        Ok(clear)
    }

    /// What protection does to the clear media segment `buf`, decided
    /// before any byte is encrypted or moved: each `moof`'s replacement
    /// and each sample's IV and subsample map. Kept for the next request
    /// of the same segment ([`PlanKey`]).
    fn plan(&self, buf: &[u8]) -> Result<Arc<SegmentPlan>> {
        // Boxes of the input, as (start, end) of each whole box.
        let mut boxes = Vec::new();
        for item in bmff::iter_boxes(buf) {
            let (header, body) = item?;
            let whole = whole_box(buf, body, header.header_len)?;
            let start = whole.as_ptr() as usize - buf.as_ptr() as usize;
            boxes.push((header.kind, start, start + whole.len()));
        }
        // Each fragment's `moof`, where its samples lie and its salt.
        let mut fragments = Vec::new();
        for &(kind, start, end) in &boxes {
            if &kind.0 != b"moof" {
                continue;
            }
            let moof = Moof::decode(&buf[start..end])?;
            let seq = moof.mfhd.sequence_number;
            if moof.trafs.len() != 1 {
                return Err(Error::Unsupported(format!("segment {seq}: {} trafs (CMAF has one)", moof.trafs.len())));
            }
            // Where each sample lies.
            let mut ranges = Vec::new();
            for traf in &moof.trafs {
                if !traf.tfhd.default_base_is_moof || traf.tfhd.base_data_offset.is_some() {
                    return Err(Error::Unsupported(format!("segment {seq}: traf without default-base-is-moof")));
                }
                for trun in &traf.truns {
                    let Some(data_offset) = trun.data_offset else {
                        return Err(Error::Segment(format!("segment {seq}: trun without data offset")));
                    };
                    let mut pos = usize::try_from(data_offset)
                        .ok()
                        .and_then(|d| start.checked_add(d))
                        .filter(|&p| p >= end)
                        .ok_or_else(|| Error::Segment(format!("segment {seq}: trun data offset {data_offset} outside the following mdat")))?;
                    for s in &trun.samples {
                        let n = ranges.len() + 1;
                        let size = s
                            .size
                            .or(traf.tfhd.default_sample_size)
                            .ok_or_else(|| Error::Segment(format!("segment {seq}: sample {n} has no size")))?
                            as usize;
                        let sample_end = pos
                            .checked_add(size)
                            .filter(|&e| e <= buf.len())
                            .ok_or_else(|| Error::Segment(format!("segment {seq}: sample {n} lies past the end")))?;
                        ranges.push(pos..sample_end);
                        pos = sample_end;
                    }
                }
            }
            let salt = segment_salt(&buf[start..end], buf, &ranges);
            fragments.push((start, end, moof, ranges, salt));
        }
        let key: PlanKey = (buf.len(), fragments.iter().map(|(start, end, _, _, salt)| (*start, *end, *salt)).collect());
        if let Some(plan) = self.plans.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(plan.clone());
        }
        let mut generator = self.generator()?;
        let mut plan = SegmentPlan { moofs: Vec::new(), samples: Vec::new(), growth: 0 };
        for (start, end, mut moof, ranges, salt) in fragments {
            let seq = moof.mfhd.sequence_number;
            let old_len = end - start;
            let mut senc_samples = Vec::new();
            // All subsample maps of the fragment in one pass (one
            // parameter-set parser per fragment).
            let maps = generator
                .subsamples_of(ranges.iter().map(|r| &buf[r.clone()]))
                .map_err(|source| Error::Crypto { track: self.track_id, sample: 0, source })?;
            for (index, (range, subsamples)) in (0u32..).zip(ranges.into_iter().zip(maps)) {
                let iv: Vec<u8> = if self.crypto.per_sample_iv_size == 0 {
                    Vec::new()
                } else {
                    let iv = u64::from_be_bytes(cenc::sample_iv(self.kid, self.track_id, seq, index)) ^ salt;
                    let iv = iv.to_be_bytes();
                    iv[..usize::from(self.crypto.per_sample_iv_size).min(iv.len())].to_vec()
                };
                let key_iv: Vec<u8> = match self.crypto.constant_iv {
                    Some(c) if iv.is_empty() => c.to_vec(),
                    _ => iv.clone(),
                };
                senc_samples.push(SencSample {
                    iv,
                    subsamples: subsamples.iter().map(|s| bmff::Subsample { clear: s.clear, protected: s.protected }).collect(),
                });
                plan.samples.push(SampleJob { range, key_iv, subsamples, index });
            }
            // CMAF: the one `traf` (checked above).
            for (traf, samples) in moof.trafs.iter_mut().zip([senc_samples]) {
                let sizes: Vec<usize> = samples
                    .iter()
                    .map(|s| s.iv.len() + if self.crypto.uses_subsamples { 2 + 6 * s.subsamples.len() } else { 0 })
                    .collect();
                if sizes.iter().all(|&n| n == 0) {
                    // Constant IV and whole-sample encryption (`cbcs` audio):
                    // nothing varies per sample, so there is no sample
                    // auxiliary information to point at (ISO/IEC 23001-7 §7.2).
                    continue;
                }
                if let Some(big) = sizes.iter().find(|&&n| n > 255) {
                    return Err(Error::Segment(format!("segment {seq}: {big} bytes of sample auxiliary information (limit 255)")));
                }
                let all_same = sizes.windows(2).all(|w| w[0] == w[1]);
                traf.saiz = vec![Saiz {
                    aux_info: None,
                    default_sample_info_size: if all_same { sizes.first().copied().unwrap_or(0) as u8 } else { 0 },
                    sample_count: samples.len() as u32,
                    sample_info_sizes: if all_same { Vec::new() } else { sizes.iter().map(|&n| n as u8).collect() },
                }];
                traf.saio = vec![Saio { version: 0, aux_info: None, offsets: vec![0] }];
                traf.senc = Some(Senc { version: 0, flags: if self.crypto.uses_subsamples { 2 } else { 0 }, samples });
            }
            // Encode once to learn where things land, then fix the offsets:
            // the sizes do not change, only the values.
            let mut moof_bytes = Vec::new();
            moof.encode(&mut moof_bytes)?;
            // A clear `moof` only gains boxes: protection never shrinks it.
            let grown = moof_bytes.len().checked_sub(old_len).ok_or_else(|| Error::Segment(format!("segment {seq}: moof shrinks when protected")))?;
            let senc_offsets = senc_data_offsets(&moof_bytes)?;
            let mut senc_offsets = senc_offsets.into_iter();
            for traf in &mut moof.trafs {
                if let Some(saio) = traf.saio.first_mut() {
                    let at = senc_offsets.next().ok_or_else(|| Error::Segment(format!("segment {seq}: senc not found")))?;
                    saio.offsets = vec![at];
                }
                for trun in &mut traf.truns {
                    if let Some(d) = trun.data_offset.as_mut() {
                        *d = i64::from(*d)
                            .checked_add(grown as i64)
                            .and_then(|d| i32::try_from(d).ok())
                            .ok_or_else(|| Error::Segment(format!("segment {seq}: data offset overflow")))?;
                    }
                }
            }
            moof_bytes.clear();
            moof.encode(&mut moof_bytes)?;
            plan.growth += grown;
            plan.moofs.push((start, end, moof_bytes));
        }
        let plan = Arc::new(plan);
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if plans.len() >= PLANS_KEPT {
            plans.clear();
        }
        plans.insert(key, plan.clone());
        Ok(plan)
    }
}

/// What protection does to one clear media segment (offsets from its
/// start): the replacement of each `moof`, in order, and the samples to
/// encrypt.
struct SegmentPlan {
    /// (start, end) of a clear `moof` and its protected bytes.
    moofs: Vec<(usize, usize, Vec<u8>)>,
    samples: Vec<SampleJob>,
    /// How many bytes the segment gains: the sum of the `moof`s' growth.
    growth: usize,
}

impl SegmentPlan {
    /// Whether the `moof`s and samples lie in file order without sharing
    /// a byte, each sample after its `moof`: what
    /// [`TrackProtector::protect_segment_into`] walks in one pass.
    fn in_order(&self) -> bool {
        let mut moofs = self.moofs.iter().map(|(start, end, _)| (*start, *end)).peekable();
        let mut pos = 0usize;
        let mut next = |(start, end): (usize, usize)| {
            let ok = start >= pos && end >= start;
            pos = end;
            ok
        };
        for s in &self.samples {
            while let Some(m) = moofs.next_if(|(start, _)| *start < s.range.start) {
                if !next(m) {
                    return false;
                }
            }
            if !next((s.range.start, s.range.end)) {
                return false;
            }
        }
        moofs.all(next)
    }
}

/// One sample to encrypt.
struct SampleJob {
    range: std::ops::Range<usize>,
    /// The IV the cipher runs with (the per-sample IV, or the constant one).
    key_iv: Vec<u8>,
    subsamples: Vec<cenc::Subsample>,
    /// Its index in its `traf`, for errors.
    index: u32,
}

/// Ensures `growth` bytes of room in front of the segment at `buf[start..]`
/// and returns where the segment starts then: `start` when there was room,
/// else the segment moved up (one copy).
fn make_room(buf: &mut Vec<u8>, start: usize, growth: usize) -> Result<usize> {
    if start >= growth {
        return Ok(start);
    }
    let more = growth - start;
    buf.try_reserve(more).map_err(|_| Error::Segment(format!("{more} more bytes do not fit in memory")))?;
    buf.splice(0..0, std::iter::repeat_n(0u8, more));
    Ok(growth)
}

/// Writes the protected segment from the planned clear one at
/// `buf[start..]` (with `plan.growth` bytes of room in front of it, see
/// [`make_room`]) and returns where it starts. Each `moof` is replaced by
/// its bigger protected self and what lies between them moves down by the
/// growth of the `moof`s after it: the boxes after the last `moof` (its
/// `mdat`, nearly all the bytes) stay where they are. Every piece moves
/// towards the front, so copying them in order never overwrites one that
/// is still to move.
fn lay_out(buf: &mut [u8], start: usize, plan: &SegmentPlan) -> usize {
    let out = start - plan.growth;
    let mut dst = out;
    let mut src = start;
    for (moof_start, moof_end, bytes) in &plan.moofs {
        let piece = src..start + moof_start;
        let n = piece.len();
        if dst != src {
            buf.copy_within(piece, dst);
        }
        dst += n;
        buf[dst..dst + bytes.len()].copy_from_slice(bytes);
        dst += bytes.len();
        src = start + moof_end;
    }
    // Only the pieces before the last `moof` moved: `dst == src` now.
    debug_assert_eq!(dst, src);
    out
}

/// A 64-bit value that tells this clear segment apart from the segments of
/// other assets, XORed into its `cenc` IVs.
///
/// `cenc::sample_iv` keeps IVs unique within one asset (track ‖ segment ‖
/// sample), but one key may protect many assets (a 1:many key mapping), and
/// two assets' segment 3 of track 1 would then share IVs: AES-CTR keystream
/// reuse across different plaintexts. The salt is derived from the segment's
/// own clear bytes — its `moof` (sample sizes, durations, decode time) and the
/// first and last 16 bytes of every sample — so it stays deterministic (the
/// origin and `castguard package` agree, CDNs can cache) without hashing
/// whole segments. Equal salts need equal sample layouts and edges, which
/// only a copy of the same content has; the same content under the same key
/// gives the same ciphertext, which reveals nothing new.
fn segment_salt(moof: &[u8], buf: &[u8], samples: &[std::ops::Range<usize>]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"castguard/cenc/segment-salt/v1\0");
    h.update(moof);
    for r in samples {
        let sample = &buf[r.clone()];
        let n = sample.len().min(16);
        h.update(&sample[..n]);
        h.update(&sample[sample.len() - n..]);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The whole box (header included) whose body is `body`, a sub-slice of `buf`.
fn whole_box<'a>(buf: &'a [u8], body: &[u8], header_len: u8) -> Result<&'a [u8]> {
    let body_start = body.as_ptr() as usize - buf.as_ptr() as usize;
    let start = body_start
        .checked_sub(usize::from(header_len))
        .ok_or_else(|| Error::Segment("box header before the buffer".into()))?;
    Ok(&buf[start..body_start + body.len()])
}

/// For each `traf` of an encoded `moof`, the offset from the start of the
/// `moof` of its `senc` sample data (after the full-box header and the
/// sample count): what `saio` must point at.
fn senc_data_offsets(moof: &[u8]) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for item in bmff::iter_boxes(moof) {
        let (_, moof_body) = item?;
        for child in bmff::iter_boxes(moof_body) {
            let (header, traf_body) = child?;
            if &header.kind.0 != b"traf" {
                continue;
            }
            for grandchild in bmff::iter_boxes(traf_body) {
                let (header, body) = grandchild?;
                if &header.kind.0 == b"senc" {
                    let at = body.as_ptr() as usize - moof.as_ptr() as usize;
                    out.push(at as u64 + 8);
                }
            }
        }
    }
    Ok(out)
}

/// HLS AES-128: the whole segment in AES-128-CBC with PKCS#7 padding, the IV
/// being the media sequence number (RFC 8216 §5.2) unless one is given.
pub fn aes128_segment(key: &cenc::Key, media_sequence: u64, clear: &[u8]) -> Vec<u8> {
    cenc::hls::encrypt_segment(key, &cenc::hls::iv_from_sequence(media_sequence), clear)
}

/// [`aes128_segment`] of the clear segment `buf[start..]`, in place (the
/// padding grows `buf`).
pub fn aes128_segment_in_place(key: &cenc::Key, media_sequence: u64, buf: &mut Vec<u8>, start: usize) -> Result<()> {
    cenc::hls::encrypt_segment_in_place(key, &cenc::hls::iv_from_sequence(media_sequence), buf, start)
        .map_err(|source| Error::Crypto { track: 0, sample: 0, source })
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_needs_pieces_in_file_order() {
        let job = |range: std::ops::Range<usize>| SampleJob { range, key_iv: Vec::new(), subsamples: Vec::new(), index: 0 };
        let plan = |moofs: Vec<(usize, usize)>, samples: Vec<std::ops::Range<usize>>| SegmentPlan {
            moofs: moofs.into_iter().map(|(a, b)| (a, b, Vec::new())).collect(),
            samples: samples.into_iter().map(job).collect(),
            growth: 0,
        };
        // Two fragments, each moof before its samples: one pass.
        assert!(plan(vec![(0, 100), (300, 400)], vec![108..200, 200..300, 408..500]).in_order());
        // A trun whose data offset goes back, or two samples sharing bytes:
        // the in-place way.
        assert!(!plan(vec![(0, 100)], vec![200..300, 108..200]).in_order());
        assert!(!plan(vec![(0, 100)], vec![108..200, 150..250]).in_order());
        // A sample inside the next moof.
        assert!(!plan(vec![(0, 100), (300, 400)], vec![108..350]).in_order());
    }

    #[test]
    fn segment_salt_tells_different_content_apart() {
        // Two segments with the same moof (layout, timing) but other sample
        // bytes, as two assets cut alike would have: different salts, so
        // one key over both never repeats an IV.
        let moof = b"moof with the same sample sizes";
        let a = vec![1u8; 100];
        let mut b = a.clone();
        b[0] = 2;
        let ranges = vec![0..50, 50..100];
        assert_ne!(segment_salt(moof, &a, &ranges), segment_salt(moof, &b, &ranges));
        // Deterministic: the origin and `castguard package` agree.
        assert_eq!(segment_salt(moof, &a, &ranges), segment_salt(moof, &a.clone(), &ranges));
        // Tiny samples (shorter than 16 bytes) are hashed whole.
        assert_ne!(segment_salt(moof, &[1, 2, 3], &[0..3]), segment_salt(moof, &[1, 2, 4], &[0..3]));
    }
}
