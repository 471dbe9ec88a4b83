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

fn segments_from_starts(track: &PlanInput<'_>, starts: &[usize]) -> Vec<SegmentPlan> {
    let n = track.samples.len();
    if n == 0 {
        return Vec::new();
    }
    let mut bounds = Vec::with_capacity(starts.len() + 2);
    bounds.push(0usize);
    bounds.extend(starts.iter().copied().filter(|&s| s > 0 && s < n));
    bounds.push(n);
    bounds
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| {
            let run = &track.samples[w[0]..w[1]];
            SegmentPlan {
                first_sample: w[0],
                sample_count: w[1] - w[0],
                start: run[0].dts,
                duration: run.iter().map(|s| u64::from(s.duration)).sum(),
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
        .map(|t| segments_from_starts(t, &cuts_for(t, &cuts)))
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
        assert_eq!(p[0], vec![SegmentPlan { first_sample: 0, sample_count: 1, start: 0, duration: 100 }]);
        assert!(p[1].is_empty());
    }
}
