//! Where segments start.
//!
//! CMAF (ISO/IEC 23000-19 §7.3.2) wants every segment of a video track to
//! start with a sync sample, and players switching between tracks want the
//! segments of all tracks to cover the same time span. So the cut points are
//! chosen on the reference track (the first video track, else the first
//! track) at the first sync sample at or after each multiple of the target
//! duration, and every other track is cut at its first sample at or after
//! each of those instants. All comparisons are exact rationals in integer
//! arithmetic, so no segment drifts by a rounding error.
//!
//! Audio is also cut on its own where the video gives no cut for longer
//! than 1.5 targets (a long GOP, or audio running on past the end of the
//! video): at every target duration after the last shared cut, stopping
//! half a target short of the next one so no sliver is left. CMAF allows
//! audio segments of their own (ISO/IEC 23000-19 §7.3.2: alignment is
//! per switching set), and a player fetches audio by its own timeline.
//!
//! Segment times in manifests are presentation times (the earliest
//! `dts + cts − shift` of a segment's samples), each segment ending where
//! the next starts, so that a segment announced at 4 s starts with the key
//! frame shown at 4 s, whatever its decode time.

use bmff::sample_table::Sample;

/// One segment of one track: a run of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPlan {
    /// Index of the first sample in the track's sample list.
    pub first_sample: usize,
    /// Number of samples, at least one.
    pub sample_count: usize,
    /// Decode time of the first sample (track timescale), the `tfdt` value.
    pub start: u64,
    /// Sum of the sample durations (track timescale).
    pub duration: u64,
    /// Earliest presentation time of its samples (track timescale, 0 at
    /// the least): the segment's time in manifests.
    pub presentation_start: u64,
    /// Up to the next segment's presentation start (the last one: to the
    /// end of its latest sample).
    pub presentation_duration: u64,
}

/// A track as the planner sees it.
pub struct PlanInput<'a> {
    pub timescale: u32,
    pub samples: &'a [Sample],
    /// Cut only at sync samples (video); audio samples are all sync anyway.
    pub needs_sync: bool,
    /// Presentation time of a sample is `dts + cts_offset - shift`: the
    /// edit list's media time (B-frame delay, AAC priming) less any initial
    /// empty edit, in track ticks. Cuts are decided on presentation times so
    /// that a key frame presented at 4.000 s starts the second 4-second
    /// segment whatever its decode time.
    pub shift: i64,
}

impl PlanInput<'_> {
    fn presentation(&self, s: &Sample) -> i128 {
        i128::from(s.dts) + i128::from(s.cts_offset) - i128::from(self.shift)
    }
}

/// Cut instants, in seconds as the rational `(ticks, timescale)` of the
/// reference track, derived from the reference track.
fn reference_cuts(track: &PlanInput<'_>, target_secs: f64) -> Vec<(i128, u32)> {
    let ts = u64::from(track.timescale.max(1));
    // Target in ticks, at least one tick.
    let target = i128::from(((target_secs * ts as f64).round() as u64).max(1));
    let mut cuts = Vec::new();
    let mut next = target;
    for s in track.samples.iter().skip(1) {
        let t = track.presentation(s);
        if t >= next && (s.is_sync || !track.needs_sync) {
            cuts.push((t, track.timescale.max(1)));
            // The next boundary is the next multiple of the target after this
            // cut, so a long GOP does not make a run of tiny segments.
            next = (t.div_euclid(target) + 1) * target;
        }
    }
    cuts
}

/// Cuts expressed in another track's timescale: first sample whose decode
/// time is at or after each instant.
fn cuts_for(track: &PlanInput<'_>, cuts: &[(i128, u32)]) -> Vec<usize> {
    let mut out = Vec::with_capacity(cuts.len());
    let mut i = 1usize;
    let ts = i128::from(track.timescale.max(1));
    for &(ticks, cts) in cuts {
        // instant = ticks / cts; sample time = t / ts; t/ts >= ticks/cts
        // ⇔ t * cts >= ticks * ts.
        let rhs = ticks * ts;
        while i < track.samples.len() {
            let s = &track.samples[i];
            if track.presentation(s) * i128::from(cts) >= rhs && (s.is_sync || !track.needs_sync) {
                break;
            }
            i += 1;
        }
        if i >= track.samples.len() {
            break;
        }
        if out.last() != Some(&i) {
            out.push(i);
        }
    }
    out
}

/// Cut instants for an audio track (in its own ticks): the shared cuts, and
/// a cut every `target_secs` where the shared ones leave a gap of more than
/// 1.5 targets (up to its end), none closer than half a target to the next.
fn audio_cuts(track: &PlanInput<'_>, shared: &[(i128, u32)], target_secs: f64) -> Vec<(i128, u32)> {
    let ts = track.timescale.max(1);
    let target = i128::from(((target_secs * f64::from(ts)).round() as u64).max(1));
    let end = track.samples.iter().map(|s| track.presentation(s) + i128::from(s.duration)).max().unwrap_or(0);
    // Shared instants in this track's ticks, rounded up (the first sample
    // at or after them is the same).
    let mut bounds: Vec<i128> = vec![0];
    bounds.extend(shared.iter().map(|&(t, cts)| {
        let num = t * i128::from(ts);
        let den = i128::from(cts.max(1));
        num.div_euclid(den) + i128::from(num.rem_euclid(den) != 0)
    }));
    bounds.push(end);
    let mut out = Vec::with_capacity(bounds.len());
    for w in bounds.windows(2) {
        let (from, to) = (w[0], w[1]);
        if (to - from) * 2 > target * 3 {
            let mut at = from + target;
            while (to - at) * 2 >= target {
                out.push((at, ts));
                at += target;
            }
        }
        if to != end && to > 0 {
            out.push((to, ts));
        }
    }
    out
}

fn segments_from_starts(track: &PlanInput<'_>, starts: &[usize]) -> Vec<SegmentPlan> {
    let n = track.samples.len();
    if n == 0 {
        return Vec::new();
    }
    let mut bounds = Vec::with_capacity(starts.len() + 2);
    bounds.push(0usize);
    bounds.extend(starts.iter().copied().filter(|&s| s > 0 && s < n));
    bounds.push(n);
    let runs: Vec<(usize, usize)> = bounds.windows(2).filter(|w| w[1] > w[0]).map(|w| (w[0], w[1])).collect();
    let clamp = |t: i128| u64::try_from(t.max(0)).unwrap_or(u64::MAX);
    let earliest: Vec<u64> = runs
        .iter()
        .map(|&(a, b)| clamp(track.samples[a..b].iter().map(|s| track.presentation(s)).min().unwrap_or(0)))
        .collect();
    let end = clamp(track.samples.iter().map(|s| track.presentation(s) + i128::from(s.duration)).max().unwrap_or(0));
    runs.iter()
        .enumerate()
        .map(|(i, &(a, b))| {
            let run = &track.samples[a..b];
            // The first segment starts where decoding starts when its
            // first frame is shown a little later (the reordering delay of
            // a file without an edit list): no hole before it. A track that
            // really starts later (an empty edit, folded into its decode
            // times by `movie`) starts there: players place the other
            // tracks and the subtitles by what the manifest says.
            let presentation_start = if i == 0 { earliest[0].min(clamp(i128::from(run[0].dts))) } else { earliest[i] };
            let next = earliest.get(i + 1).copied().unwrap_or(end).max(presentation_start);
            SegmentPlan {
                first_sample: a,
                sample_count: b - a,
                start: run[0].dts,
                duration: run.iter().map(|s| u64::from(s.duration)).sum(),
                presentation_start,
                presentation_duration: next - presentation_start,
            }
        })
        .collect()
}

/// Plans the segments of every track; `reference` is the index of the track
/// whose sync samples decide the cut instants.
pub fn plan(tracks: &[PlanInput<'_>], reference: usize, target_secs: f64) -> Vec<Vec<SegmentPlan>> {
    let Some(reference_track) = tracks.get(reference) else {
        return Vec::new();
    };
    let cuts = reference_cuts(reference_track, target_secs);
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let starts = if i != reference && !t.needs_sync {
                cuts_for(t, &audio_cuts(t, &cuts, target_secs))
            } else {
                cuts_for(t, &cuts)
            };
            segments_from_starts(t, &starts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize, duration: u32, gop: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                offset: 0,
                size: 1,
                dts: i as u64 * u64::from(duration),
                duration,
                cts_offset: 0,
                is_sync: i % gop == 0,
                description_index: 1,
            })
            .collect()
    }

    #[test]
    fn video_cut_at_sync_and_audio_aligned() {
        // 10 s of 25 fps video (timescale 12800, GOP 2 s) and 48 kHz AAC.
        let v = samples(250, 512, 50);
        let a = samples(469, 1024, 1);
        let tracks = [
            PlanInput { timescale: 12800, samples: &v, needs_sync: true, shift: 0 },
            PlanInput { timescale: 48000, samples: &a, needs_sync: false, shift: 0 },
        ];
        let p = plan(&tracks, 0, 4.0);
        let vstarts: Vec<usize> = p[0].iter().map(|s| s.first_sample).collect();
        assert_eq!(vstarts, vec![0, 100, 200]);
        assert_eq!(p[0].iter().map(|s| s.sample_count).sum::<usize>(), 250);
        assert!(p[0].iter().all(|s| v[s.first_sample].is_sync));
        // Audio cut at the first frame at or after 4 s and 8 s.
        let astarts: Vec<usize> = p[1].iter().map(|s| s.first_sample).collect();
        assert_eq!(astarts, vec![0, 188, 375]);
        assert_eq!(p[1].iter().map(|s| s.sample_count).sum::<usize>(), 469);
        for (seg, next) in p[1].iter().zip(p[1].iter().skip(1)) {
            assert_eq!(seg.start + seg.duration, next.start);
        }
    }

    #[test]
    fn cuts_on_presentation_time() {
        // HEVC with 3 frames of reordering: the key frame presented at 4 s
        // is decoded at 3.92 s; the edit list shifts presentation by 2 frames.
        let mut v = samples(250, 512, 50);
        for (i, s) in v.iter_mut().enumerate() {
            s.cts_offset = if i % 50 == 0 { 1536 } else { 1024 };
        }
        let tracks = [PlanInput { timescale: 12800, samples: &v, needs_sync: true, shift: 1536 }];
        let p = plan(&tracks, 0, 4.0);
        let starts: Vec<usize> = p[0].iter().map(|s| s.first_sample).collect();
        assert_eq!(starts, vec![0, 100, 200]);
    }

    #[test]
    fn long_gop_does_not_make_tiny_segments() {
        // GOP of 37 frames at 25 fps (1.48 s), target 1 s.
        let v = samples(200, 1, 37);
        let tracks = [PlanInput { timescale: 25, samples: &v, needs_sync: true, shift: 0 }];
        let p = plan(&tracks, 0, 1.0);
        let starts: Vec<usize> = p[0].iter().map(|s| s.first_sample).collect();
        assert_eq!(starts, vec![0, 37, 74, 111, 148, 185]);
    }

    #[test]
    fn empty_and_single_sample_tracks() {
        let none: Vec<Sample> = Vec::new();
        let one = samples(1, 100, 1);
        let tracks = [
            PlanInput { timescale: 1000, samples: &one, needs_sync: true, shift: 0 },
            PlanInput { timescale: 1000, samples: &none, needs_sync: false, shift: 0 },
        ];
        let p = plan(&tracks, 0, 4.0);
        assert_eq!(
            p[0],
            vec![SegmentPlan {
                first_sample: 0,
                sample_count: 1,
                start: 0,
                duration: 100,
                presentation_start: 0,
                presentation_duration: 100
            }]
        );
        assert!(p[1].is_empty());
    }

    #[test]
    fn audio_is_cut_on_its_own_under_a_long_gop_and_past_the_video() {
        // 20 s GOP (one key frame every 500 frames at 25 fps), 40 s of
        // video; audio runs 7 s longer. Target 4 s.
        let v = samples(1000, 1, 500);
        let a = samples(47 * 1000 / 20, 20, 1); // 47 s of 20 ms frames, timescale 1000
        let tracks = [
            PlanInput { timescale: 25, samples: &v, needs_sync: true, shift: 0 },
            PlanInput { timescale: 1000, samples: &a, needs_sync: false, shift: 0 },
        ];
        let p = plan(&tracks, 0, 4.0);
        assert_eq!(p[0].iter().map(|s| s.first_sample).collect::<Vec<_>>(), vec![0, 500]);
        let starts: Vec<u64> = p[1].iter().map(|s| s.presentation_start).collect();
        // Every 4 s up to the video's cut at 20 s (16 is 4 s before it),
        // then again to the end at 47 s (44 would leave 3 s: kept, 3 ≥ 2).
        assert_eq!(starts, vec![0, 4000, 8000, 12000, 16000, 20000, 24000, 28000, 32000, 36000, 40000, 44000]);
        assert!(p[1].iter().all(|s| s.presentation_duration <= 4000));
        // No audio cut closer than half a target to a shared one: a 5 s
        // gap stays one segment.
        let v = samples(250, 1, 125); // GOP 5 s, 10 s
        let a = samples(500, 20, 1);
        let tracks = [
            PlanInput { timescale: 25, samples: &v, needs_sync: true, shift: 0 },
            PlanInput { timescale: 1000, samples: &a, needs_sync: false, shift: 0 },
        ];
        let p = plan(&tracks, 0, 4.0);
        assert_eq!(p[1].iter().map(|s| s.presentation_start).collect::<Vec<_>>(), vec![0, 5000]);
    }

    #[test]
    fn presentation_times_follow_composition_not_decode() {
        // Two frames of reordering, shift 2 frames: the key frame at 4 s is
        // decoded one frame earlier; segments are announced at 0, 4 s, 8 s.
        let mut v = samples(250, 512, 50);
        for (i, s) in v.iter_mut().enumerate() {
            s.cts_offset = if i % 50 == 0 { 1024 + 512 } else { 1024 };
            s.dts = (i as u64) * 512;
        }
        let tracks = [PlanInput { timescale: 12800, samples: &v, needs_sync: true, shift: 1024 }];
        let p = plan(&tracks, 0, 4.0);
        let times: Vec<(u64, u64)> = p[0].iter().map(|s| (s.presentation_start, s.presentation_duration)).collect();
        assert_eq!(times[1].0, 100 * 512 + 512, "the key frame's presentation time");
        for w in times.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "contiguous");
        }
        assert_eq!(times[0].0, 0);
    }
}
