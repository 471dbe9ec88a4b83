//! A title: every audio and video track of one or several input files,
//! packaged as one presentation (an ABR ladder of video renditions,
//! alternate audio).
//!
//! Encoders hand a ladder over as several files (one per rendition, audio
//! apart or muxed into each); a title gathers their tracks, numbers them
//! title-wide and checks what a player switching between renditions relies
//! on, before anything is written:
//! - every video rendition has a key frame at each instant the reference
//!   rendition is cut at (DASH-IF IOP v4.3 §3.2.2 segment alignment; Apple
//!   HLS Authoring Specification §1.10 "key frames aligned across
//!   variants"), so a player can switch at any segment boundary;
//! - tracks last as long as each other, within one segment;
//! - no two video renditions have the same size and codec, and no two audio
//!   tracks the same language and codec, unless they are the very same
//!   track (an encoder that muxes one audio track into every rendition
//!   file): the copies are left out, each with a line saying so.
//!
//! Pictures: video tracks of different files are renditions of one picture
//! (that is what `castguard package a.mp4 b.mp4` asks for), but two video
//! tracks of one file are different pictures (two camera angles, a main
//! picture and a sign-language picture) unless their `tkhd` declares them
//! alternatives of each other: the same non-zero `alternate_group`
//! (ISO/IEC 14496-12 §8.3.2.3). ffmpeg writes `alternate_group` 0 for every
//! video track, so its multi-video files are pictures. A file's n-th
//! picture (in track order) is the title's n-th: a ladder of files that
//! each carry a main and a sign-language picture gives two ladders. Two
//! renditions clash (same size and codec) only within one picture.
//!
//! Track numbers: the first file keeps its own track ids (a one-file title
//! names its tracks as the file does, `video_1`, `audio_2`); each further
//! file's ids are shifted past the largest number used so far.

use std::path::{Path, PathBuf};

use bmff::SampleEntry;

use crate::error::{Error, Result};
use crate::movie::{Movie, Track, TrackKind};
use crate::plan::{self, PlanInput, SegmentPlan};

/// The input files of a title and which of their tracks it uses.
pub struct Title {
    pub files: Vec<Movie>,
    /// `(file index, track index in that file)` of every track, in title
    /// order; their `Track::id` is the title-wide number.
    pub tracks: Vec<(usize, usize)>,
    /// The picture of each track of `tracks` (0 for audio and for the main
    /// picture; see the module docs).
    pub pictures: Vec<u32>,
    /// One line per track of the inputs that is not in the title, and why.
    pub notes: Vec<String>,
    /// Subtitles and captions ([`crate::text`]), numbered after the audio
    /// and video tracks.
    pub texts: Vec<crate::text::TextTrack>,
}

impl std::fmt::Debug for Title {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Title").field("files", &self.files).field("tracks", &self.tracks.len()).finish()
    }
}

impl Title {
    /// Opens every file; errors name the file.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Title> {
        if paths.is_empty() {
            return Err(Error::NoTracks);
        }
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref();
            files.push(Movie::open(p).map_err(|e| in_file(p, e))?);
        }
        Title::from_movies(files)
    }

    /// A title of already opened files.
    pub fn from_movies(mut files: Vec<Movie>) -> Result<Title> {
        let mut notes = Vec::new();
        let mut next_base = 0u32;
        for movie in &mut files {
            let base = next_base;
            let mut max = base;
            for t in &mut movie.tracks {
                t.id = t.id.checked_add(base).ok_or_else(|| Error::track(t.id, "track id overflows when numbering the title"))?;
                max = max.max(t.id);
            }
            for k in &movie.skipped {
                notes.push(format!("{}: track {} ('{}') skipped: {}", movie.path().display(), k.id, k.handler, k.reason));
            }
            next_base = max;
        }
        let pictures_by_file: Vec<Vec<u32>> = files
            .iter()
            .map(|m| {
                let tracks: Vec<(bool, i16)> =
                    m.tracks.iter().map(|t| (t.kind == TrackKind::Video, t.trak.tkhd.alternate_group)).collect();
                file_pictures(&tracks)
            })
            .collect();
        let picture = |(f, t): (usize, usize)| pictures_by_file[f][t];
        let mut tracks: Vec<(usize, usize)> = Vec::new();
        for (fi, movie) in files.iter().enumerate() {
            for (ti, t) in movie.tracks.iter().enumerate() {
                let same_picture: Vec<(usize, usize)> =
                    tracks.iter().copied().filter(|&of| picture(of) == picture((fi, ti))).collect();
                match duplicate_of(&files, &same_picture, fi, t)? {
                    None => tracks.push((fi, ti)),
                    Some(Duplicate::Same(of)) => notes.push(format!(
                        "{}: track {} left out: the same audio as {} track {}",
                        movie.path().display(),
                        file_id(t),
                        files[of.0].path().display(),
                        file_id(&files[of.0].tracks[of.1])
                    )),
                    Some(Duplicate::Clash(of)) => {
                        let other = &files[of.0];
                        let (what, fix) = match t.kind {
                            TrackKind::Video => ("a video rendition of the same size and codec", "give each rendition once"),
                            TrackKind::Audio => (
                                "an audio track of the same language and codec",
                                "give each audio track once, with its own language tag",
                            ),
                        };
                        return Err(Error::Ladder(format!(
                            "{}: track {} is {what} as {} track {}; {fix}",
                            movie.path().display(),
                            file_id(t),
                            other.path().display(),
                            file_id(&other.tracks[of.1])
                        )));
                    }
                }
            }
        }
        if tracks.is_empty() {
            return Err(Error::NoTracks);
        }
        let pictures = tracks.iter().map(|&ft| picture(ft)).collect();
        let mut title = Title { files, tracks, pictures, notes, texts: Vec::new() };
        title.add_movie_texts();
        Ok(title)
    }

    /// The text tracks inside the files (`tx3g`, `wvtt`), as subtitles in
    /// their `mdhd` language, numbered after the audio and video tracks.
    /// Cues that start past the end of the title are left out, with a note.
    fn add_movie_texts(&mut self) {
        let title_ms = (self.duration_secs() * 1000.0).round() as u64;
        let mut next = self.iter().map(|(_, t)| t.id).max().unwrap_or(0);
        let mut texts = Vec::new();
        for movie in &self.files {
            for t in &movie.texts {
                next += 1;
                let (cues, late): (Vec<_>, Vec<_>) = t.cues.iter().cloned().partition(|c| c.start_ms < title_ms.max(1));
                if !late.is_empty() {
                    self.notes.push(format!(
                        "{}: text track {}: {} cue(s) from {} on start past the end of the title, left out",
                        movie.path().display(),
                        t.id,
                        late.len(),
                        crate::text::webvtt::timestamp(late[0].start_ms)
                    ));
                }
                texts.push(crate::text::TextTrack {
                    id: next,
                    language: t.language.clone(),
                    role: crate::text::TextRole::Subtitle,
                    label: t.label.clone(),
                    cues,
                    source: movie.path().to_owned(),
                });
            }
        }
        self.texts = texts;
    }

    /// Adds text tracks from sidecar files (`--text en=subs.vtt`): each is
    /// read whole and checked (a bad line, a cue past the end of the title,
    /// the same language and role twice are errors naming the file), and
    /// numbered after every other track.
    pub fn add_texts(&mut self, inputs: &[crate::text::TextInput]) -> Result<()> {
        let title_ms = (self.duration_secs() * 1000.0).round() as u64;
        let mut next = self.iter().map(|(_, t)| t.id).max().unwrap_or(0) + self.texts.len() as u32;
        for input in inputs {
            if let Some(other) = self.texts.iter().find(|t| t.language == input.language && t.role == input.role) {
                return Err(Error::Text {
                    path: input.path.clone(),
                    line: None,
                    message: format!(
                        "a second {} track in '{}' (the first is {}); give each language and role once",
                        input.role.dash_role(),
                        input.language,
                        other.source.display()
                    ),
                });
            }
            next += 1;
            let track = crate::text::TextTrack::from_input(next, input)?;
            track.check_within(title_ms)?;
            self.texts.push(track);
        }
        Ok(())
    }

    /// The title's tracks with the file each comes from.
    pub fn iter(&self) -> impl Iterator<Item = (&Movie, &Track)> + '_ {
        self.tracks.iter().map(|&(f, t)| (&self.files[f], &self.files[f].tracks[t]))
    }

    /// Total bytes of sample data, the unit of progress.
    pub fn total_sample_bytes(&self) -> u64 {
        self.iter().flat_map(|(_, t)| t.samples.iter()).map(|s| u64::from(s.size)).sum()
    }

    /// Duration in seconds: the longest track.
    pub fn duration_secs(&self) -> f64 {
        self.iter().map(|(_, t)| t.duration() as f64 / f64::from(t.timescale)).fold(0.0, f64::max)
    }

    /// Segment plans for every track (in title order), cut on the first
    /// video track's key frames; checks that every other video rendition
    /// has a key frame at each cut and that tracks of different files last
    /// alike (one file's audio may run on past its video: it is cut on its
    /// own, see [`crate::plan`]).
    ///
    /// Video is cut at closed random access points (SAP type 1 or 2, see
    /// [`crate::sap`]) when the track has any besides its first frame;
    /// an open-GOP track without any is cut at its open ones, its SAP type
    /// says 3 and a warning says why. A segment longer than 1.5 targets
    /// (a long GOP) gives a warning naming the GOP length.
    pub fn plan(&self, segment_duration: f64) -> Result<TitlePlan> {
        let mut warnings = Vec::new();
        let mut sap_by_track = Vec::new();
        let mut cut_samples: Vec<Option<Vec<bmff::sample_table::Sample>>> = Vec::new();
        for (m, t) in self.iter() {
            if t.kind != TrackKind::Video {
                sap_by_track.push(Vec::new());
                cut_samples.push(None);
                continue;
            }
            let sap = crate::sap::sap_types(m, t)?;
            let closed_after_first = sap.iter().skip(1).any(|&s| s == 1 || s == 2);
            let open: usize = sap.iter().skip(1).filter(|&&s| s == 3).count();
            if open > 0 && closed_after_first {
                // Open-GOP key frames are not cut at: only closed ones.
                let mut samples = t.samples.clone();
                for (s, &k) in samples.iter_mut().zip(&sap).skip(1) {
                    if k == 3 {
                        s.is_sync = false;
                    }
                }
                cut_samples.push(Some(samples));
            } else {
                cut_samples.push(None);
            }
            sap_by_track.push(sap);
        }
        let inputs: Vec<PlanInput<'_>> = self
            .iter()
            .zip(&cut_samples)
            .map(|((m, t), cut)| PlanInput {
                timescale: t.timescale,
                samples: cut.as_deref().unwrap_or(&t.samples),
                needs_sync: t.kind == TrackKind::Video,
                shift: t.presentation_shift(m.moov.mvhd.timescale),
            })
            .collect();
        let tracks: Vec<(&Movie, &Track)> = self.iter().collect();
        let reference = tracks.iter().position(|(_, t)| t.kind == TrackKind::Video).unwrap_or(0);
        let plans = plan::plan(&inputs, reference, segment_duration);
        let (ref_movie, ref_track) = tracks[reference];
        let ref_input = &inputs[reference];
        let ref_plan = &plans[reference];
        let ref_secs = ref_track.duration() as f64 / f64::from(ref_track.timescale);
        for (i, ((movie, track), input)) in tracks.iter().zip(&inputs).enumerate() {
            if i == reference {
                continue;
            }
            let secs = track.duration() as f64 / f64::from(track.timescale);
            let same_file = std::ptr::eq(*movie, ref_movie);
            if !same_file && (secs - ref_secs).abs() > segment_duration {
                return Err(Error::Ladder(format!(
                    "{}: track {} lasts {secs:.3} s but {} track {} lasts {ref_secs:.3} s (more than one {segment_duration} s segment apart); \
                     cut every rendition from the same source range",
                    movie.path().display(),
                    file_id(track),
                    ref_movie.path().display(),
                    file_id(ref_track)
                )));
            }
            if track.kind != TrackKind::Video {
                continue;
            }
            check_aligned(ref_movie, ref_track, ref_input, ref_plan, movie, track, input, &plans[i])?;
        }
        // What kind of start each segment has, and what to warn about.
        let mut sap_types = Vec::with_capacity(plans.len());
        for ((((movie, track), plan), sap), cut) in tracks.iter().zip(&plans).zip(&sap_by_track).zip(&cut_samples) {
            if track.kind != TrackKind::Video {
                sap_types.push(1);
                continue;
            }
            let worst = plan.iter().map(|p| sap.get(p.first_sample).copied().unwrap_or(1).max(1)).max().unwrap_or(1);
            if worst == 3 {
                warnings.push(format!(
                    "{}: track {} has open GOPs (key frames that are not IDR, with leading B-frames referencing the previous GOP): \
                     its segments start with SAP type 3 and are not independent, so a player starting or switching there may show broken frames; \
                     encode closed GOPs (x264: no open-gop; x265: --no-open-gop)",
                    movie.path().display(),
                    file_id(track)
                ));
            }
            sap_types.push(worst);
            if let Some(w) = long_gop_warning(movie, track, cut.as_deref(), plan, segment_duration) {
                warnings.push(w);
            }
        }
        Ok(TitlePlan { segments: plans, sap_types, warnings, reference })
    }
}

/// The segment plans of a title, and what they say about its video.
#[derive(Debug, Clone)]
pub struct TitlePlan {
    /// Per track, in title order.
    pub segments: Vec<Vec<SegmentPlan>>,
    /// Per track, the largest SAP type its segments start with (1 for
    /// audio): DASH `startWithSAP`, HLS `EXT-X-INDEPENDENT-SEGMENTS`.
    pub sap_types: Vec<u8>,
    /// One line each: long GOPs, open GOPs.
    pub warnings: Vec<String>,
    /// The track whose key frames decide the cuts (the first video track,
    /// else the first track); text segments follow its segments too.
    pub reference: usize,
}

impl TitlePlan {
    /// The longest segment of any track, in seconds: the DASH
    /// `minBufferTime` (at least 2 s), so that each Representation's
    /// `@bandwidth` holds for the segments it really has.
    pub fn longest_segment_secs(&self, title: &Title) -> f64 {
        title
            .iter()
            .zip(&self.segments)
            .flat_map(|((_, t), p)| p.iter().map(move |s| s.presentation_duration as f64 / f64::from(t.timescale.max(1))))
            .fold(0.0, f64::max)
    }
}

/// A warning when a video track has a segment longer than 1.5 targets
/// (the last one excepted, unless its GOP is that long too), naming its
/// longest GOP; `closed_only` are its samples with only the closed key
/// frames marked sync, when open ones were passed over.
fn long_gop_warning(movie: &Movie, track: &Track, closed_only: Option<&[bmff::sample_table::Sample]>, plan: &[SegmentPlan], target: f64) -> Option<String> {
    let ts = f64::from(track.timescale.max(1));
    let what = if closed_only.is_some() { "closed key frames (IDR; its open-GOP key frames are not cut at)" } else { "key frames" };
    let pts: Vec<i128> = closed_only
        .unwrap_or(&track.samples)
        .iter()
        .filter(|s| s.is_sync)
        .map(|s| i128::from(s.dts) + i128::from(s.cts_offset))
        .collect();
    let end = i128::from(track.duration());
    let longest_gop = pts.windows(2).map(|w| w[1] - w[0]).chain(pts.last().map(|l| end - l)).max().unwrap_or(end) as f64 / ts;
    let limit = target * 1.5;
    let longest_segment = plan.iter().map(|p| p.presentation_duration as f64 / ts).fold(0.0, f64::max);
    let long_inner = plan.iter().rev().skip(1).any(|p| p.presentation_duration as f64 / ts > limit);
    if !(long_inner || longest_gop > limit) || longest_segment <= limit {
        return None;
    }
    Some(format!(
        "{}: track {} has {what} up to {longest_gop:.1} s apart (GOP), so its segments last up to {longest_segment:.1} s \
         where {target} s were asked; encode with a key frame every {target} s (ffmpeg: -g/-keyint_min, -sc_threshold 0) for the segment length players expect",
        movie.path().display(),
        file_id(track)
    ))
}

/// The presentation time of a segment's first sample as the rational
/// `(ticks, timescale)`.
fn start_of(input: &PlanInput<'_>, seg: &SegmentPlan) -> (i128, i128) {
    let s = &input.samples[seg.first_sample];
    (i128::from(s.dts) + i128::from(s.cts_offset) - i128::from(input.shift), i128::from(input.timescale.max(1)))
}

#[allow(clippy::too_many_arguments)]
fn check_aligned(
    ref_movie: &Movie,
    ref_track: &Track,
    ref_input: &PlanInput<'_>,
    ref_plan: &[SegmentPlan],
    movie: &Movie,
    track: &Track,
    input: &PlanInput<'_>,
    plan: &[SegmentPlan],
) -> Result<()> {
    let fix = "encode every rendition with the same fixed GOP (ffmpeg: -g 48 -keyint_min 48 -sc_threshold 0; x265: keyint=48:min-keyint=48:scenecut=0)";
    for (n, r) in ref_plan.iter().enumerate().skip(1) {
        let (rt, rts) = start_of(ref_input, r);
        let at = rt as f64 / rts as f64;
        let ok = plan.get(n).is_some_and(|s| {
            let (t, ts) = start_of(input, s);
            t * rts == rt * ts
        });
        if plan.get(n).is_none() {
            let secs = track.duration() as f64 / f64::from(track.timescale);
            return Err(Error::Ladder(format!(
                "{}: track {} lasts {secs:.3} s, ending before {at:.3} s where {} track {} starts segment {}; \
                 cut every rendition from the same source range",
                movie.path().display(),
                file_id(track),
                ref_movie.path().display(),
                file_id(ref_track),
                n + 1
            )));
        }
        if !ok {
            return Err(Error::Ladder(format!(
                "{}: track {} has no key frame at {at:.3} s, where {} track {} starts segment {}; {fix}",
                movie.path().display(),
                file_id(track),
                ref_movie.path().display(),
                file_id(ref_track),
                n + 1
            )));
        }
    }
    if plan.len() > ref_plan.len() {
        let (t, ts) = start_of(input, &plan[ref_plan.len()]);
        return Err(Error::Ladder(format!(
            "{}: track {} starts a segment at {:.3} s where {} track {} has none; {fix}",
            movie.path().display(),
            file_id(track),
            t as f64 / ts as f64,
            ref_movie.path().display(),
            file_id(ref_track)
        )));
    }
    Ok(())
}

enum Duplicate {
    /// The very same track (same codec configuration and sample sizes).
    Same((usize, usize)),
    /// Another track players could not tell apart from this one.
    Clash((usize, usize)),
}

/// The picture of each track of one file, from `(is video, tkhd
/// alternate_group)` in track order: a video track joins the picture of an
/// earlier one with the same non-zero alternate group, else starts the
/// file's next picture. Audio is 0.
fn file_pictures(tracks: &[(bool, i16)]) -> Vec<u32> {
    let mut groups: Vec<i16> = Vec::new();
    tracks
        .iter()
        .map(|&(video, group)| {
            if !video {
                return 0;
            }
            let known = (group != 0).then(|| groups.iter().position(|g| *g == group)).flatten();
            let i = known.unwrap_or_else(|| {
                groups.push(group);
                groups.len() - 1
            });
            u32::try_from(i).unwrap_or(u32::MAX)
        })
        .collect()
}

/// Whether `t` (of file `fi`) repeats a track already in the title.
fn duplicate_of(files: &[Movie], taken: &[(usize, usize)], fi: usize, t: &Track) -> Result<Option<Duplicate>> {
    let key = identity(t);
    for &(of_f, of_t) in taken {
        let o = &files[of_f].tracks[of_t];
        if o.kind != t.kind || identity(o) != key {
            continue;
        }
        if of_f == fi {
            // Two tracks of one file: the author put them there on purpose.
            continue;
        }
        let same = t.kind == TrackKind::Audio
            && o.sample_entry() == t.sample_entry()
            && o.samples.len() == t.samples.len()
            && o.samples.iter().zip(&t.samples).all(|(a, b)| a.size == b.size && a.duration == b.duration);
        return Ok(Some(if same { Duplicate::Same((of_f, of_t)) } else { Duplicate::Clash((of_f, of_t)) }));
    }
    Ok(None)
}

/// What players tell tracks apart by: the sample entry's four-character code
/// with the picture size (video) or the language (audio).
fn identity(t: &Track) -> (String, u32, u32, [u8; 3]) {
    let lang = t.trak.mdia.mdhd.language;
    match t.sample_entry() {
        Some(SampleEntry::Visual(v)) => (v.kind.to_string(), u32::from(v.width), u32::from(v.height), [0; 3]),
        Some(SampleEntry::Audio(a)) => (a.kind.to_string(), 0, 0, lang),
        Some(SampleEntry::Other(o)) => (o.kind.to_string(), 0, 0, lang),
        None => (String::new(), 0, 0, lang),
    }
}

/// The track's id in its own file (what ffprobe and MP4 tools show), for
/// messages that name the file.
fn file_id(t: &Track) -> u32 {
    t.trak.tkhd.track_id
}

/// Names the file in an error that does not already.
fn in_file(path: &Path, e: Error) -> Error {
    match e {
        Error::NotMp4(_) | Error::Io { .. } | Error::InFile { .. } => e,
        other => Error::InFile { path: PathBuf::from(path), source: Box::new(other) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_of_one_file() {
        // ffmpeg: alternate_group 0 on video, 1 on audio.
        assert_eq!(file_pictures(&[(true, 0), (true, 0), (false, 1)]), [0, 1, 0]);
        // Declared alternatives: one picture.
        assert_eq!(file_pictures(&[(true, 2), (true, 2), (false, 1)]), [0, 0, 0]);
        // Two groups of two, interleaved, and a lone track after them.
        assert_eq!(file_pictures(&[(true, 3), (true, 4), (true, 3), (true, 4), (true, 0)]), [0, 1, 0, 1, 2]);
        // Group 0 never joins.
        assert_eq!(file_pictures(&[(true, 0), (true, 5), (true, 0)]), [0, 1, 2]);
        assert_eq!(file_pictures(&[]), Vec::<u32>::new());
    }
}
