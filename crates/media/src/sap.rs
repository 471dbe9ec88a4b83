//! Stream access points (ISO/IEC 14496-12 Annex I): what kind of start a
//! key frame gives a segment.
//!
//! Why it matters: a segment is only independent when its first frame
//! starts a closed GOP. With an open GOP (an H.264 I-frame that is not an
//! IDR, an H.265 CRA or BLA picture) the B-frames that follow it in decode
//! order but are shown before it (leading pictures, RASL in H.265)
//! reference the previous GOP: a player that starts or switches there
//! decodes them with errors or drops them. DASH says so with
//! `startWithSAP` and HLS with `EXT-X-INDEPENDENT-SEGMENTS`, so both must
//! tell the truth.
//!
//! The SAP type of a sync sample:
//! - 1: no leading pictures (an IDR, or a CRA without leading pictures);
//! - 2: leading pictures that decode from this frame on (an H.265
//!   `IDR_W_RADL` with RADL pictures);
//! - 3: leading pictures that need the previous GOP (open GOP).
//!
//! Leading pictures are found in the sample tables (a sample after the key
//! frame in decode order with an earlier presentation time); only then are
//! the key frame's NAL unit headers read, a few bytes from the file, to
//! tell an IDR from an open-GOP picture.

use std::ops::ControlFlow;

use crate::error::Result;
use crate::movie::{Movie, Track};
use crate::nal::NalFormat;

/// Samples after a key frame looked at for leading pictures: encoders put
/// them right after it in decode order (a few B-frames).
const LEADING_WINDOW: usize = 64;

/// The SAP type (1, 2 or 3) of every sync sample of a video track, by
/// sample index; 0 for the others.
pub fn sap_types(movie: &Movie, track: &Track) -> Result<Vec<u8>> {
    let samples = &track.samples;
    let mut out = vec![0u8; samples.len()];
    let nal = track.sample_entry().and_then(NalFormat::of);
    for k in 0..samples.len() {
        if !samples[k].is_sync {
            continue;
        }
        let pts = |i: usize| i128::from(samples[i].dts) + i128::from(samples[i].cts_offset);
        let key = pts(k);
        let leading = (k + 1..samples.len().min(k + 1 + LEADING_WINDOW))
            .take_while(|&j| !samples[j].is_sync)
            .any(|j| pts(j) < key);
        out[k] = if !leading {
            1
        } else {
            match nal {
                Some(n) => match first_vcl_type(n, movie, &samples[k])? {
                    Some(t) if n.is_idr(t) => 2,
                    _ => 3,
                },
                None => 3,
            }
        };
    }
    Ok(out)
}

/// The type of the first VCL NAL unit (a slice) of `sample`, skipping
/// access unit delimiters, parameter sets and SEI.
fn first_vcl_type(nal: NalFormat, movie: &Movie, sample: &bmff::sample_table::Sample) -> Result<Option<u8>> {
    let mut found = None;
    nal.walk(movie, sample, |t, _, _| {
        if nal.is_vcl(t) {
            found = Some(t);
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(found)
}
