//! `castguard package`: a title (one or several MP4 files, progressive or
//! fragmented) in, CMAF segments and DASH/HLS manifests out, clear or
//! protected.
//!
//! Tracks are packaged in parallel by one thread per core; a thread holds
//! one segment at a time, so memory stays flat whatever the input's size
//! and however many renditions the title has.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bmff::SampleEntry;

use crate::bandwidth;
use crate::error::{Error, Result};
use crate::manifest::{self, Presentation, SegmentTime};
use crate::movie::{Movie, Track, TrackKind};
use crate::plan::SegmentPlan;
use crate::title::Title;
pub use crate::setup::{CommonEncryption, LicenseUrls, Protection, TrackSetup};

#[derive(Debug, Clone)]
pub struct PackageOptions {
    pub segment_duration: f64,
    pub protection: Protection,
    pub dash: bool,
    pub hls: bool,
}

/// What was written, for the summary the CLI prints.
#[derive(Debug, Clone)]
pub struct Summary {
    pub duration_secs: f64,
    /// The packaged tracks as the manifests describe them (URIs relative
    /// to `out_dir`).
    pub presentation: Presentation,
    pub tracks: Vec<TrackSummary>,
    pub manifests: Vec<String>,
    pub bytes_written: u64,
    /// One line each about the input that players will feel (long GOPs,
    /// open GOPs): said, not refused.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TrackSummary {
    pub name: String,
    pub codecs: String,
    pub segments: usize,
    pub bytes: u64,
}

struct TrackOutput {
    manifest: manifest::Track,
    summary: TrackSummary,
}

/// Packages `title` into `out_dir` (which must exist). `progress` is called
/// with the number of sample bytes just processed.
///
/// Tracks are packaged by as many threads as there are cores, each taking
/// the next track when done with one, so memory is a few segment buffers
/// whatever the number of renditions.
pub fn package(title: &Title, opts: &PackageOptions, out_dir: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<Summary> {
    if !(opts.segment_duration.is_finite() && opts.segment_duration > 0.0) {
        return Err(Error::Segment(format!("segment duration {} is not a positive number", opts.segment_duration)));
    }
    let plan = title.plan(opts.segment_duration)?;
    let min_buffer = min_buffer_secs(plan.longest_segment_secs(title));
    let jobs: Vec<(&Movie, &Track, &[SegmentPlan], u8, u32)> = title
        .iter()
        .zip(&plan.segments)
        .zip(&plan.sap_types)
        .zip(&title.pictures)
        .map(|((((m, t), p), sap), &picture)| (m, t, p.as_slice(), *sap, picture))
        .collect();
    let several_files = title.files.len() > 1;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Vec<Vec<(usize, Result<TrackOutput>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= jobs.len() || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let (movie, track, plan, sap_type, picture) = jobs[i];
                        let job = TrackJob { plan, sap_type, min_buffer, picture };
                        let r = package_track(movie, track, &job, opts, out_dir, progress).map_err(|e| {
                            if several_files { Error::InFile { path: movie.path().to_owned(), source: Box::new(e) } } else { e }
                        });
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        out.push((i, r));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| vec![(0, Err(Error::Segment("a packaging thread panicked".into())))]))
            .collect()
    });
    let mut results: Vec<(usize, Result<TrackOutput>)> = done.into_iter().flatten().collect();
    results.sort_by_key(|(i, r)| (r.is_ok(), *i));
    let mut outputs = results.into_iter().map(|(_, r)| r).collect::<Result<Vec<_>>>()?;
    if outputs.len() != jobs.len() {
        return Err(Error::Segment("packaging stopped before every track was done".into()));
    }

    let duration_secs = title.duration_secs();
    // Text segments follow the reference track's segment starts.
    let reference = plan.reference;
    if !title.texts.is_empty() {
        let (starts, timescale): (Vec<u64>, u32) = match (plan.segments.get(reference), title.iter().nth(reference)) {
            (Some(p), Some((_, t))) => (p.iter().map(|s| s.presentation_start).collect(), t.timescale),
            _ => (Vec::new(), 1000),
        };
        let bounds = crate::text::boundaries_ms(&starts, timescale, (duration_secs * 1000.0).round() as u64);
        for text in &title.texts {
            outputs.push(package_text(text, &bounds, min_buffer, out_dir)?);
        }
    }
    let presentation = Presentation {
        live: None,
        duration_secs,
        tracks: outputs.iter().map(|o| o.manifest.clone()).collect(),
        min_buffer_secs: min_buffer,
    };
    let mut manifests = Vec::new();
    let mut bytes_written: u64 = outputs.iter().map(|o| o.summary.bytes).sum();
    for (name, text) in manifest_files(&presentation, opts.dash, opts.hls)? {
        let path = out_dir.join(&name);
        bytes_written += text.len() as u64;
        fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        manifests.push(name);
    }
    Ok(Summary {
        duration_secs,
        presentation,
        tracks: outputs.into_iter().map(|o| o.summary).collect(),
        manifests,
        bytes_written,
        warnings: plan.warnings,
    })
}

/// The manifests of a presentation as `(path, text)`, paths relative to
/// the presentation's root: `manifest.mpd`, `master.m3u8` and one
/// `<track>/playlist.m3u8` per track (whose URIs are relative to it).
pub fn manifest_files(presentation: &Presentation, dash: bool, hls: bool) -> Result<Vec<(String, String)>> {
    presentation.validate().map_err(|e| Error::Segment(format!("manifest: {e}")))?;
    let mut out = Vec::new();
    if dash {
        out.push(("manifest.mpd".to_owned(), manifest::write_mpd(presentation)));
    }
    if hls {
        out.push((
            "master.m3u8".to_owned(),
            manifest::write_master(
                presentation,
                |t| format!("{}/playlist.m3u8", track_dir(t)),
                |t| format!("{}/iframes.m3u8", track_dir(t)),
            ),
        ));
        for track in &presentation.tracks {
            out.push((format!("{}/playlist.m3u8", track_dir(track)), media_playlist(presentation, track)));
            if !track.key_frame_ends.is_empty() {
                out.push((format!("{}/iframes.m3u8", track_dir(track)), iframe_playlist(presentation, track)));
            }
        }
    }
    Ok(out)
}

/// A track's HLS media playlist, its URIs relative to `<track>/`: CMAF
/// segments, or WebVTT files for a text track.
pub fn media_playlist(presentation: &Presentation, track: &manifest::Track) -> String {
    media_playlist_with_keys(presentation, track, "init.mp4", &[])
}

/// [`media_playlist`] opening with the init segment `init_uri` (relative to
/// the track) and with the key changing at `changes` (key rotation,
/// [`crate::rotation`]).
pub fn media_playlist_with_keys(
    presentation: &Presentation,
    track: &manifest::Track,
    init_uri: &str,
    changes: &[manifest::hls::KeyChange],
) -> String {
    let mut t = track.clone();
    t.init_uri = init_uri.into();
    t.media_uri_template = if t.is_text() { "$Number$.vtt" } else { "$Number$.m4s" }.into();
    manifest::hls::write_media_playlist_with_keys(presentation, &t, changes)
}

/// Writes a text track into `out_dir/text_<id>/`: the `wvtt` init and
/// segments (`<n>.m4s`, DASH), the WebVTT segments (`<n>.vtt`, HLS) and the
/// whole file (`subtitles.vtt`, the DASH sidecar), segment `n` covering
/// `bounds[n-1]..bounds[n]` ms. Never encrypted.
fn package_text(text: &crate::text::TextTrack, bounds: &[u64], min_buffer: f64, out_dir: &Path) -> Result<TrackOutput> {
    use crate::text::{self, wvtt};
    let name = text.name();
    let dir = out_dir.join(&name);
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let init = wvtt::init_segment(&text.language)?;
    let mut bytes = init.len() as u64;
    write_file(&dir.join("init.mp4"), &init)?;
    let mut sizes = Vec::with_capacity(bounds.len());
    let mut segments = Vec::with_capacity(bounds.len());
    for (i, w) in bounds.windows(2).enumerate() {
        let seq = u32::try_from(i + 1).map_err(|_| Error::Segment("more than 2^32 segments".into()))?;
        let m4s = wvtt::media_segment(&text.cues, w[0], w[1], seq)?;
        write_file(&dir.join(format!("{seq}.m4s")), &m4s)?;
        let vtt = text::hls_segment(&text.cues, w[0], w[1]);
        write_file(&dir.join(format!("{seq}.vtt")), vtt.as_bytes())?;
        bytes += (m4s.len() + vtt.len()) as u64;
        sizes.push(m4s.len() as u64);
        segments.push(SegmentTime { start: w[0], duration: w[1] - w[0] });
    }
    let whole = text::whole_file(&text.cues);
    write_file(&dir.join("subtitles.vtt"), whole.as_bytes())?;
    bytes += whole.len() as u64;
    let kind = manifest::TrackKind::Text { language: text.language.clone(), role: text.role, label: text.label.clone() };
    let mut manifest = track_model(text.id, &name, kind, "wvtt", text::TEXT_TIMESCALE, segments, &sizes, min_buffer);
    manifest.captions = Some(Default::default());
    let segments = manifest.segments.len();
    Ok(TrackOutput { manifest, summary: TrackSummary { name, codecs: "wvtt".into(), segments, bytes } })
}

/// A video track's HLS I-frame playlist, its URIs relative to `<track>/`.
pub fn iframe_playlist(presentation: &Presentation, track: &manifest::Track) -> String {
    let mut t = track.clone();
    t.init_uri = "init.mp4".into();
    t.media_uri_template = "$Number$.m4s".into();
    manifest::hls::write_iframe_playlist(presentation, &t)
}

/// `video_1` from `video_1/init.mp4`.
fn track_dir(t: &manifest::Track) -> String {
    t.init_uri.split('/').next().unwrap_or_default().to_owned()
}

/// The clear manifest model of a track written to `<name>/`: bit rates
/// from the clear segment `sizes` ([`crate::bandwidth`]) and its segment
/// times; key frame ends, SAP type, captions and protection are the
/// caller's to fill in.
#[allow(clippy::too_many_arguments)]
fn track_model(
    id: u32,
    name: &str,
    kind: manifest::TrackKind,
    codecs: &str,
    timescale: u32,
    segments: Vec<SegmentTime>,
    sizes: &[u64],
    min_buffer: f64,
) -> manifest::Track {
    let durations: Vec<u64> = segments.iter().map(|s| s.duration).collect();
    let total = durations.iter().fold(0u64, |a, d| a.saturating_add(*d));
    let target = manifest::hls::target_duration(&durations, timescale);
    manifest::Track {
        id,
        kind,
        codecs: codecs.to_owned(),
        bandwidth: bandwidth::dash_bandwidth(sizes, &durations, timescale, min_buffer).max(1),
        average_bandwidth: bandwidth::average(sizes, total, timescale).max(1),
        hls_peak_bandwidth: bandwidth::hls_peak(sizes, &durations, timescale, target).max(1),
        timescale,
        segments,
        init_uri: format!("{name}/init.mp4"),
        media_uri_template: format!("{name}/$Number$.m4s"),
        start_number: 1,
        discontinuity_sequence: None,
        protection: None,
        hls_keys: Vec::new(),
        key_frame_ends: Vec::new(),
        sap_type: 1,
        captions: None,
    }
}

/// What the title's plan says of one track.
struct TrackJob<'a> {
    plan: &'a [SegmentPlan],
    sap_type: u8,
    min_buffer: f64,
    /// Which picture of the title the track shows ([`Title::pictures`]).
    picture: u32,
}

fn package_track(
    movie: &Movie,
    track: &Track,
    job: &TrackJob<'_>,
    opts: &PackageOptions,
    out_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TrackOutput> {
    let plans = job.plan;
    let name = track.name();
    let dir = out_dir.join(&name);
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let entry = track.sample_entry().ok_or_else(|| Error::track(track.id, "no sample description"))?;
    let codec = crate::codec::codec_info(track.id, entry)?;

    let setup = TrackSetup::new(&opts.protection, track.id, crate::track_class::TrackClass::of_entry(track.kind, entry), entry)?;
    let init = setup.init(&crate::cmaf::init_segment(&movie.moov.mvhd, track)?)?;
    let mut bytes = init.len() as u64;
    write_file(&dir.join("init.mp4"), &init)?;

    let mut segments = Vec::with_capacity(plans.len());
    let mut clear_sizes = Vec::with_capacity(plans.len());
    // HLS I-frame playlists point into video segments with byte ranges,
    // which whole-segment AES-128 rules out.
    let with_key_frames = track.kind == TrackKind::Video && !matches!(opts.protection, Protection::Aes128 { .. });
    let mut key_frame_ends = Vec::new();
    // One buffer for every segment of the track: no allocation (and no
    // fresh pages for the kernel to zero) per segment.
    let mut buf = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let seq = u32::try_from(i + 1).map_err(|_| Error::Segment("more than 2^32 segments".into()))?;
        let samples = &track.samples[plan.first_sample..plan.first_sample + plan.sample_count];
        crate::cmaf::media_segment_into(track, plan, seq, &mut buf, |out| movie.read_samples(samples, out))?;
        // Bandwidth from the clear segments, so that every protected form
        // of an asset (here or at the origin) announces the same figures.
        clear_sizes.push(buf.len() as u64);
        setup.segment_in_place(seq, &mut buf)?;
        if with_key_frames {
            key_frame_ends.push(crate::cmaf::first_sample_end(&buf)?);
        }
        write_file(&dir.join(format!("{seq}.m4s")), &buf)?;
        bytes += buf.len() as u64;
        segments.push(SegmentTime { start: plan.presentation_start, duration: plan.presentation_duration });
        progress(samples.iter().map(|s| u64::from(s.size)).sum());
    }
    let kind = manifest_kind(track, entry, job.picture);
    let mut manifest = track_model(track.id, &name, kind, &codec.codecs, track.timescale, segments, &clear_sizes, job.min_buffer);
    manifest.key_frame_ends = key_frame_ends;
    manifest.sap_type = job.sap_type;
    manifest.captions =
        Some(if track.kind == TrackKind::Video { crate::captions::detect(movie, track)? } else { Default::default() });
    setup.signal(&mut manifest);
    Ok(TrackOutput { manifest, summary: TrackSummary { name, codecs: codec.codecs, segments: plans.len(), bytes } })
}

/// DASH `minBufferTime`: the longest segment (up to the next
/// millisecond, the precision it is written and used at), at least 2 s.
fn min_buffer_secs(longest_segment_secs: f64) -> f64 {
    ((longest_segment_secs * 1000.0).ceil() / 1000.0).max(2.0)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

pub(crate) fn manifest_kind(track: &Track, entry: &SampleEntry, picture: u32) -> manifest::TrackKind {
    let (frame_rate, max_frame_rate) = frame_rates(track.timescale, &track.samples);
    match (track.kind, entry) {
        (TrackKind::Audio, SampleEntry::Audio(a)) => {
            let lang = track.trak.mdia.mdhd.language;
            let language = std::str::from_utf8(&lang).ok().and_then(crate::language::bcp47);
            // The decoder configuration says how many channels there are;
            // the sample entry's `channelcount` is 2 whatever the audio.
            match crate::audio::AudioConfig::of(a) {
                Ok(c) => manifest::TrackKind::Audio {
                    sample_rate: c.sample_rate,
                    channels: c.channels,
                    language,
                    dolby_channel_map: c.dolby_channel_map,
                    joc_complexity: c.joc_complexity,
                },
                Err(_) => manifest::TrackKind::Audio {
                    sample_rate: a.declared_sample_rate(),
                    channels: u16::try_from(a.declared_channels()).unwrap_or(2),
                    language,
                    dolby_channel_map: None,
                    joc_complexity: None,
                },
            }
        }
        (_, SampleEntry::Visual(v)) => manifest::TrackKind::Video {
            width: u32::from(v.width),
            height: u32::from(v.height),
            frame_rate,
            max_frame_rate,
            sar: Some(sample_aspect_ratio(v)),
            interlaced: crate::scan::interlaced(v),
            picture,
        },
        _ => manifest::TrackKind::Video {
            width: track.trak.tkhd.width >> 16,
            height: track.trak.tkhd.height >> 16,
            frame_rate,
            max_frame_rate,
            sar: Some((1, 1)),
            interlaced: false,
            picture,
        },
    }
}

/// `hSpacing:vSpacing` of the entry's `pasp` (ISO/IEC 14496-12 §12.1.4.2),
/// reduced; `1:1` when it has none (square pixels, §12.1.4.1) or a zero.
fn sample_aspect_ratio(v: &bmff::VisualSampleEntry) -> (u32, u32) {
    let pasp = v.other.iter().find(|b| b.kind == bmff::FourCC(*b"pasp"));
    let spacing = |at: usize| -> Option<u32> { Some(u32::from_be_bytes(pasp?.body.get(at..at + 4)?.try_into().ok()?)) };
    match (spacing(0), spacing(4)) {
        (Some(h), Some(v)) if h != 0 && v != 0 => {
            let g = gcd(h, v);
            (h / g, v / g)
        }
        _ => (1, 1),
    }
}

/// Frames per second as `(numerator, denominator)`.
type Rate = (u32, u32);

/// The frame rate of a video track as `(rate, max)` from its sample
/// durations (`timescale` ticks each):
/// - constant rate: the most common sample duration gives the rate, and
///   there is no separate maximum;
/// - variable rate: the rate is the average, samples over total duration
///   (DASH `@frameRate`, ISO/IEC 23009-1 §5.3.7.2), and the maximum comes
///   from the shortest sample (HLS `FRAME-RATE`, RFC 8216 §4.3.4.2).
///
/// The rate varies when a sample other than the last lasts more than one
/// tick *and* more than a millisecond longer or shorter than the most
/// common duration. The tolerance keeps jitter constant: a 29.97 fps stream
/// in a 1000 Hz timescale alternates 33 and 34 ticks, and timestamps kept
/// in milliseconds but stored in a 90 kHz timescale move by 90 ticks. The
/// last sample is left out: muxers guess its duration (ffmpeg repeats the
/// previous one, others end it at the audio's end).
fn frame_rates(timescale: u32, samples: &[bmff::sample_table::Sample]) -> (Option<Rate>, Option<Rate>) {
    let mut counts = std::collections::HashMap::new();
    for s in samples {
        *counts.entry(s.duration).or_insert(0usize) += 1;
    }
    let Some((&mode, _)) = counts.iter().max_by_key(|(d, n)| (**n, **d)) else {
        return (None, None);
    };
    if mode == 0 {
        return (None, None);
    }
    let constant = (reduced(u64::from(timescale), u64::from(mode)), None);
    let body = &samples[..samples.len().saturating_sub(1)];
    let tolerance = (timescale / 1000).max(1);
    if body.iter().all(|s| s.duration.abs_diff(mode) <= tolerance) {
        return constant;
    }
    let shortest = body.iter().map(|s| s.duration).filter(|d| *d > 0).min().unwrap_or(mode);
    let total: u64 = samples.iter().map(|s| u64::from(s.duration)).sum();
    let count = samples.len() as u64;
    let average = u64::try_from(u128::from(count) * u128::from(timescale))
        .ok()
        .and_then(|num| reduced(num, total))
        .or_else(|| {
            // Too large for u32 terms: the rate in thousandths.
            let millis = (u128::from(count) * u128::from(timescale) * 1000 + u128::from(total) / 2) / u128::from(total.max(1));
            reduced(u64::try_from(millis).ok()?, 1000)
        });
    match average {
        Some(average) => (Some(average), reduced(u64::from(timescale), u64::from(shortest))),
        None => constant,
    }
}

/// `num/den` in lowest terms, when both fit in a `u32` and `den` is not 0.
fn reduced(num: u64, den: u64) -> Option<Rate> {
    if den == 0 {
        return None;
    }
    let g = gcd64(num, den);
    Some((u32::try_from(num / g).ok()?, u32::try_from(den / g).ok()?))
}

fn gcd(a: u32, b: u32) -> u32 {
    // Both fit in u32, so does their gcd.
    gcd64(u64::from(a), u64::from(b)) as u32
}

fn gcd64(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bmff::sample_table::Sample;

    fn samples(durations: &[u32]) -> Vec<Sample> {
        durations.iter().map(|&duration| Sample { duration, ..Sample::default() }).collect()
    }

    #[test]
    fn constant_rates_stay_the_most_common_duration() {
        assert_eq!(frame_rates(12_800, &samples(&[512; 250])), (Some((25, 1)), None));
        assert_eq!(frame_rates(30_000, &samples(&[1001; 30])), (Some((30_000, 1001)), None));
        // A different last sample is the muxer's guess, not a rate.
        let mut d = vec![512; 100];
        d.push(1900);
        assert_eq!(frame_rates(12_800, &samples(&d)), (Some((25, 1)), None));
    }

    #[test]
    fn jitter_is_not_a_variable_rate() {
        // 29.97 fps in milliseconds: 33, 33, 34, ...
        let d: Vec<u32> = (0..300).map(|i| if i % 3 == 2 { 34 } else { 33 }).collect();
        assert_eq!(frame_rates(1000, &samples(&d)), (Some((1000, 33)), None));
        // Millisecond timestamps in a 90 kHz timescale: 33 and 34 ms.
        let d: Vec<u32> = (0..300).map(|i| if i % 3 == 2 { 3060 } else { 2970 }).collect();
        assert_eq!(frame_rates(90_000, &samples(&d)).1, None);
    }

    #[test]
    fn variable_rate_gives_average_and_maximum() {
        // 125 frames at 25 fps, then 62 at 12.5 fps (the vfr fixture).
        let mut d = vec![512; 125];
        d.extend([1024; 62]);
        let (rate, max) = frame_rates(12_800, &samples(&d));
        // 187 frames in 127488 ticks: 4675/249 = 18.775 fps, as ffprobe's
        // avg_frame_rate says; the fastest part is 25 fps.
        assert_eq!(rate, Some((4675, 249)));
        assert_eq!(max, Some((25, 1)));
        // Short frames count for the maximum.
        let mut d = vec![1001; 50];
        d.extend([500; 3]);
        d.extend([1001; 50]);
        let (_, max) = frame_rates(30_000, &samples(&d));
        assert_eq!(max, Some((60, 1)));
    }

    #[test]
    fn degenerate_durations() {
        assert_eq!(frame_rates(12_800, &[]), (None, None));
        assert_eq!(frame_rates(12_800, &samples(&[0, 0, 0])), (None, None));
        // Terms too large for u32: the average in thousandths.
        let mut d = vec![u32::MAX - 1; 3];
        d.extend([1; 3]);
        let (rate, _) = frame_rates(u32::MAX, &samples(&d));
        assert!(rate.is_some_and(|(_, den)| den != 0), "{rate:?}");
    }
}
