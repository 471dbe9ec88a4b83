//! Bit rates as the manifest specs define them, from the sizes and
//! durations of a track's media segments. Pure integer arithmetic: the same
//! segments always give the same figures, and no rounding makes a figure
//! smaller than the definition asks.
//!
//! - DASH `@bandwidth`, ISO/IEC 23009-1 §5.3.5.2: a hypothetical constant
//!   bit rate channel of `@bandwidth` bits per second, delivery starting at
//!   any segment (every segment starts with a SAP here), lets a client play
//!   continuously once it has buffered `@minBufferTime` of it. We read that
//!   as: every segment `k` has fully arrived when its playout starts, i.e.
//!   for every start `s` and every `k ≥ s`,
//!   `bits(s..=k) ≤ B · (minBufferTime + t(k) − t(s))` with `t` the segment
//!   start time. [`dash_bandwidth`] gives the smallest such `B`.
//! - HLS `BANDWIDTH`, RFC 8216 §4.3.4.2: the peak segment bit rate, the
//!   largest bit rate of any contiguous set of segments whose total duration
//!   is between 0.5 and 1.5 times the target duration (the bit rate of a set
//!   is the sum of its sizes over the sum of its durations; the window is
//!   spelled out in draft-pantos-hls-rfc8216bis). [`hls_peak`].
//! - HLS `AVERAGE-BANDWIDTH`, RFC 8216 §4.3.4.2: the sum of the segment
//!   sizes over the playlist duration. [`average`].
//!
//! A window of contiguous segments instead of the largest single segment
//! rate keeps a short last segment (its `moof` overhead and a final GOP
//! over a fraction of a second) from inflating `BANDWIDTH`, which would make
//! players pick a lower rendition than the network allows.
//!
//! Every function rounds up (a player must not be promised less than it
//! needs), never panics, ignores the excess of the longer of `sizes` and
//! `durations`, and saturates at `u64::MAX`.

/// Bits per second, rounded up: `ceil(bytes · 8 · timescale / ticks)`.
/// `None` for a zero duration.
fn rate(bytes: u128, ticks: u128, timescale: u32) -> Option<u128> {
    if ticks == 0 {
        return None;
    }
    Some(
        bytes
            .saturating_mul(8)
            .saturating_mul(u128::from(timescale))
            .div_ceil(ticks),
    )
}

fn saturate(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// DASH `@bandwidth` (ISO/IEC 23009-1 §5.3.5.2) of segments of
/// `sizes_bytes` bytes and `durations` ticks of `timescale`, for a
/// `@minBufferTime` of `min_buffer_secs`.
///
/// `min_buffer_secs` is taken at millisecond precision, the precision the
/// MPD writer gives `minBufferTime`, so the figure fits the MPD a player
/// reads. A zero buffer would need an infinite rate and gives `u64::MAX`.
/// O(n²): 10 000 segments (a 5.5 h title in 2 s segments) is 5·10⁷ steps
/// of integer arithmetic.
pub fn dash_bandwidth(
    sizes_bytes: &[u64],
    durations: &[u64],
    timescale: u32,
    min_buffer_secs: f64,
) -> u64 {
    let n = sizes_bytes.len().min(durations.len());
    if n == 0 || timescale == 0 {
        return 0;
    }
    let ts = u128::from(timescale);
    // `as` saturates (NaN gives 0): a hostile f64 cannot wrap.
    let min_buffer_ms = if min_buffer_secs.is_finite() && min_buffer_secs > 0.0 {
        u128::from((min_buffer_secs * 1000.0).round() as u64)
    } else {
        0
    };
    // In units of 1/(1000·timescale) s: B ≥ bits · 1000 · ts / den, with
    // den = minBuffer_ms · ts + (t(k) − t(s)) · 1000.
    let buffer_units = min_buffer_ms * ts;
    let mut best: u128 = 0;
    for s in 0..n {
        let mut bits: u128 = 0;
        let mut elapsed: u128 = 0;
        for k in s..n {
            bits = bits.saturating_add(u128::from(sizes_bytes[k]) * 8);
            let den = buffer_units.saturating_add(elapsed.saturating_mul(1000));
            let num = bits.saturating_mul(1000 * ts);
            if den == 0 {
                if num > 0 {
                    return u64::MAX;
                }
            } else if best.checked_mul(den).is_none_or(|b| num > b) {
                // ceil(num / den) > best exactly when num > best · den.
                best = best.max(num.div_ceil(den));
            }
            elapsed = elapsed.saturating_add(u128::from(durations[k]));
        }
    }
    saturate(best)
}

/// HLS peak segment bit rate (RFC 8216 §4.3.4.2 `BANDWIDTH`) of segments of
/// `sizes_bytes` bytes and `durations` ticks of `timescale`, for a media
/// playlist whose `EXT-X-TARGETDURATION` is `target_secs`.
///
/// When no contiguous set falls in 0.5–1.5 × the target duration (a title
/// shorter than half the target, or a target shorter than a segment), the
/// rate of the whole track stands in for it.
pub fn hls_peak(sizes_bytes: &[u64], durations: &[u64], timescale: u32, target_secs: u64) -> u64 {
    let n = sizes_bytes.len().min(durations.len());
    if n == 0 || timescale == 0 {
        return 0;
    }
    // 0.5·T ≤ D/ts ≤ 1.5·T  ⇔  T·ts ≤ 2·D ≤ 3·T·ts, all in integers.
    let t_ticks = u128::from(target_secs) * u128::from(timescale);
    let mut best: Option<u128> = None;
    for s in 0..n {
        let mut bytes: u128 = 0;
        let mut ticks: u128 = 0;
        for k in s..n {
            bytes = bytes.saturating_add(u128::from(sizes_bytes[k]));
            ticks = ticks.saturating_add(u128::from(durations[k]));
            if ticks.saturating_mul(2) > t_ticks.saturating_mul(3) {
                break;
            }
            if ticks.saturating_mul(2) >= t_ticks
                && let Some(r) = rate(bytes, ticks, timescale)
            {
                best = Some(best.map_or(r, |b| b.max(r)));
            }
        }
    }
    match best {
        Some(b) => saturate(b),
        None => average(
            &sizes_bytes[..n],
            durations[..n]
                .iter()
                .fold(0u64, |a, d| a.saturating_add(*d)),
            timescale,
        ),
    }
}

/// Average bit rate (RFC 8216 §4.3.4.2 `AVERAGE-BANDWIDTH`): all segment
/// bytes over `total_duration` ticks of `timescale` (the sum of the
/// segment durations, as a player sums `EXTINF`). 0 for a zero duration.
pub fn average(sizes_bytes: &[u64], total_duration: u64, timescale: u32) -> u64 {
    let bytes = sizes_bytes
        .iter()
        .fold(0u128, |a, b| a.saturating_add(u128::from(*b)));
    rate(bytes, u128::from(total_duration), timescale).map_or(0, saturate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 Mbit/s exactly: 2 s segments of 250 000 bytes at timescale 1000.
    const CBR_SIZES: [u64; 5] = [250_000; 5];
    const CBR_DURS: [u64; 5] = [2000; 5];

    #[test]
    fn constant_bitrate_gives_exactly_the_rate() {
        // minBufferTime = one segment: every (s, k) needs exactly 1 Mbit/s.
        assert_eq!(dash_bandwidth(&CBR_SIZES, &CBR_DURS, 1000, 2.0), 1_000_000);
        assert_eq!(hls_peak(&CBR_SIZES, &CBR_DURS, 1000, 2), 1_000_000);
        assert_eq!(average(&CBR_SIZES, 10_000, 1000), 1_000_000);
        // Another timescale, same media.
        let durs = [25_600u64; 5];
        assert_eq!(dash_bandwidth(&CBR_SIZES, &durs, 12_800, 2.0), 1_000_000);
        assert_eq!(hls_peak(&CBR_SIZES, &durs, 12_800, 2), 1_000_000);
    }

    #[test]
    fn dash_buffer_shorter_than_a_segment_needs_more() {
        // The first 2 Mbit segment must arrive within minBufferTime = 1 s.
        assert_eq!(dash_bandwidth(&CBR_SIZES, &CBR_DURS, 1000, 1.0), 2_000_000);
        // A longer buffer lets the channel run below the media rate for a
        // finite title: worst is s = 0, k = 4: 10 Mbit over 4 + 8 s.
        assert_eq!(dash_bandwidth(&CBR_SIZES, &CBR_DURS, 1000, 4.0), 833_334);
    }

    #[test]
    fn one_big_segment() {
        // 2 s segments; the third holds 1 MB (4 Mbit/s over its 2 s), the
        // others 100 kB (400 kbit/s).
        let sizes = [100_000, 100_000, 1_000_000, 100_000, 100_000];
        // DASH with 2 s buffer: s = k = 2: 8 Mbit within 2 s = 4 Mbit/s; a
        // start earlier only adds time faster than bits (0.8 Mbit per 2 s).
        assert_eq!(dash_bandwidth(&sizes, &CBR_DURS, 1000, 2.0), 4_000_000);
        // HLS target 2 s: windows of 1 s..3 s are single segments.
        assert_eq!(hls_peak(&sizes, &CBR_DURS, 1000, 2), 4_000_000);
        // Target 4 s: windows of 2..6 s; best is the big one alone (2 s).
        assert_eq!(hls_peak(&sizes, &CBR_DURS, 1000, 4), 4_000_000);
        // Target 8 s: windows of 4..12 s, so two or more segments:
        // best is 1.1 MB over 4 s = 2.2 Mbit/s.
        assert_eq!(hls_peak(&sizes, &CBR_DURS, 1000, 8), 2_200_000);
        assert_eq!(average(&sizes, 10_000, 1000), 1_120_000);
    }

    #[test]
    fn short_last_segment_does_not_inflate_the_hls_peak() {
        // Target 4 s, segments of 4 s at 1 Mbit/s and a last 0.4 s segment
        // of 100 kB (2 Mbit/s alone, e.g. a moof and a final keyframe).
        let sizes = [500_000, 500_000, 100_000];
        let durs = [4000, 4000, 400];
        // The last segment alone is 0.1 × target, below 0.5: it only counts
        // with its neighbour, 600 kB over 4.4 s = 1 090 909.09.. bit/s.
        assert_eq!(hls_peak(&sizes, &durs, 1000, 4), 1_090_910);
        // What a per-segment maximum would have said:
        assert_eq!(rate(100_000, 400, 1000), Some(2_000_000));
    }

    #[test]
    fn hls_without_a_window_falls_back_to_the_whole_track() {
        // 0.4 s in all, target 1 s: no window reaches 0.5 s.
        assert_eq!(hls_peak(&[10_000, 10_000], &[200, 200], 1000, 1), 400_000);
        // Target shorter than every segment (a caller's mistake).
        assert_eq!(hls_peak(&[250_000], &[2000], 1000, 0), 1_000_000);
    }

    #[test]
    fn rounds_up() {
        // 1 byte over 3 s = 2.67 bit/s.
        assert_eq!(average(&[1], 3, 1), 3);
        assert_eq!(hls_peak(&[1], &[3], 1, 3), 3);
        assert_eq!(dash_bandwidth(&[1], &[3], 1, 3.0), 3);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(dash_bandwidth(&[], &[], 1000, 2.0), 0);
        assert_eq!(dash_bandwidth(&[1], &[1], 0, 2.0), 0);
        assert_eq!(dash_bandwidth(&[1], &[1], 1000, 0.0), u64::MAX);
        assert_eq!(dash_bandwidth(&[0], &[1], 1000, 0.0), 0);
        assert_eq!(dash_bandwidth(&[1], &[1], 1000, f64::NAN), u64::MAX);
        assert_eq!(dash_bandwidth(&[1], &[1], 1000, f64::INFINITY), u64::MAX);
        assert_eq!(dash_bandwidth(&[1], &[1], 1000, 1e300), 1);
        assert_eq!(
            dash_bandwidth(&[u64::MAX; 3], &[u64::MAX; 3], u32::MAX, 2.0),
            u64::MAX
        );
        assert_eq!(
            dash_bandwidth(&[100, 100, 7], &[1000, 1000], 1000, 1.0),
            800
        );
        assert_eq!(hls_peak(&[], &[], 1000, 2), 0);
        assert_eq!(hls_peak(&[5], &[0], 1000, 2), 0);
        assert_eq!(
            hls_peak(&[u64::MAX; 4], &[1; 4], u32::MAX, u64::MAX),
            u64::MAX
        );
        // No window (every segment is longer than 1.5 s): the whole-track rate.
        assert!(hls_peak(&[u64::MAX; 4], &[u64::MAX; 4], u32::MAX, 1) > 1 << 36);
        assert_eq!(average(&[5], 0, 1000), 0);
        assert_eq!(average(&[u64::MAX; 4], 1, u32::MAX), u64::MAX);
    }
}
