//! Closed captions carried in the video: CEA-608 and CEA-708 (CTA-708)
//! data in H.264 / H.265 SEI messages, as ATSC A/53 Part 4 §6.2.3 and SCTE
//! 128 put them (`user_data_registered_itu_t_t35`: country 0xB5, provider
//! 0x0031, `GA94`, user data type 3, then `cc_data`).
//!
//! Why only detect: the captions stay inside the video samples (encrypted
//! with them, decoded by the player from the SEI), so castguard's part is
//! to tell players they are there: HLS `EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS`
//! with `INSTREAM-ID` (and `CLOSED-CAPTIONS=NONE` when there are none, so
//! players do not look), DASH `Accessibility` with the SCTE 214 schemes.
//!
//! What is found: 608 data on field 1 (`cc_type` 0) is announced as `CC1`,
//! on field 2 (`cc_type` 1) as `CC3` (the usual channel of each field;
//! which of CC1/CC2 a stream uses is inside the 608 byte pairs, and nearly
//! every stream uses CC1); 708 data (`cc_type` 2 and 3) as `SERVICE1`.
//! Only cc_data pairs flagged valid and not padding (`0x80 0x80`) count.
//! The first [`SCAN_SAMPLES`] samples are scanned, reading only NAL unit
//! headers and SEI payloads.

use std::ops::ControlFlow;

use crate::error::Result;
use crate::movie::{Movie, Track};
use crate::nal::{NalFormat, unescape};

/// Samples scanned per track: about 20 s at 30 fps, where captioned
/// programmes have had captions since their first frame.
pub const SCAN_SAMPLES: usize = 600;

/// The caption services found in a video track.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Captions {
    /// CEA-608 channels: `CC1`, `CC3`.
    pub cea608: Vec<String>,
    /// CEA-708 services: `SERVICE1`.
    pub cea708: Vec<String>,
}

impl Captions {
    pub fn is_empty(&self) -> bool {
        self.cea608.is_empty() && self.cea708.is_empty()
    }

    /// HLS `INSTREAM-ID`s, 608 first.
    pub fn instream_ids(&self) -> impl Iterator<Item = &str> {
        self.cea608.iter().chain(&self.cea708).map(String::as_str)
    }
}

/// Scans the first samples of a video track for caption data.
pub fn detect(movie: &Movie, track: &Track) -> Result<Captions> {
    let Some(nal) = track.sample_entry().and_then(NalFormat::of) else {
        return Ok(Captions::default());
    };
    let mut fields = [false; 4];
    for s in track.samples.iter().take(SCAN_SAMPLES) {
        nal.walk(movie, s, |t, at, len| {
            if nal.is_sei(t) && len > 0 && len <= 64 * 1024 {
                let mut body = vec![0u8; len as usize];
                movie.read_at(s.offset + at, &mut body)?;
                scan_sei(&unescape(&body), &mut fields);
            }
            Ok(ControlFlow::Continue(()))
        })?;
        if fields.iter().all(|f| *f) {
            break;
        }
    }
    let mut c = Captions::default();
    if fields[0] {
        c.cea608.push("CC1".into());
    }
    if fields[1] {
        c.cea608.push("CC3".into());
    }
    if fields[2] || fields[3] {
        c.cea708.push("SERVICE1".into());
    }
    Ok(c)
}

/// Walks the SEI messages of one SEI RBSP; marks `fields[cc_type]` for
/// every valid, non-padding cc_data pair.
fn scan_sei(rbsp: &[u8], fields: &mut [bool; 4]) {
    let mut i = 0;
    while i < rbsp.len() {
        // rbsp_trailing_bits: 0x80 then nothing.
        if rbsp[i] == 0x80 && i + 1 == rbsp.len() {
            break;
        }
        let value = |i: &mut usize| -> Option<usize> {
            let mut v = 0usize;
            loop {
                let b = *rbsp.get(*i)?;
                *i += 1;
                v += usize::from(b);
                if b != 0xff {
                    return Some(v);
                }
            }
        };
        let Some(payload_type) = value(&mut i) else { return };
        let Some(payload_size) = value(&mut i) else { return };
        let Some(payload) = rbsp.get(i..i + payload_size) else { return };
        i += payload_size;
        if payload_type == 4 {
            scan_t35(payload, fields);
        }
    }
}

/// `user_data_registered_itu_t_t35` with ATSC `GA94` cc_data.
fn scan_t35(p: &[u8], fields: &mut [bool; 4]) {
    // country 0xB5 (USA), provider 0x0031 (ATSC), 'GA94', type 3.
    let Some(rest) = p.strip_prefix(&[0xb5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03]) else { return };
    // process_em_data_flag, process_cc_data_flag, additional_data_flag, cc_count (5).
    let Some(&flags) = rest.first() else { return };
    if flags & 0x40 == 0 {
        return;
    }
    let count = usize::from(flags & 0x1f);
    // em_data, then cc_count × (marker 5, cc_valid 1, cc_type 2, data 2 bytes).
    for k in 0..count {
        let Some(c) = rest.get(2 + k * 3..5 + k * 3) else { return };
        let valid = c[0] & 0x04 != 0;
        let kind = usize::from(c[0] & 0x03);
        let padding = (c[1] & 0x7f == 0 && c[2] & 0x7f == 0) || (kind < 2 && c[1] == 0x80 && c[2] == 0x80);
        if valid && !padding {
            fields[kind] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SEI RBSP with one GA94 cc_data of the given (cc_type, byte pair)s.
    pub(crate) fn sei(pairs: &[(u8, u8, u8)]) -> Vec<u8> {
        let mut t35 = vec![0xb5, 0x00, 0x31, b'G', b'A', b'9', b'4', 0x03, 0x40 | pairs.len() as u8, 0xff];
        for &(kind, a, b) in pairs {
            t35.extend_from_slice(&[0xf8 | 0x04 | kind, a, b]);
        }
        t35.push(0xff);
        let mut out = vec![4, t35.len() as u8];
        out.extend(t35);
        out.push(0x80);
        out
    }

    #[test]
    fn cc_data_fields() {
        let mut f = [false; 4];
        scan_sei(&sei(&[(0, 0x94, 0x2c), (1, 0x80, 0x80)]), &mut f);
        assert_eq!(f, [true, false, false, false], "field 2 padding does not count");
        let mut f = [false; 4];
        scan_sei(&sei(&[(1, 0x94, 0x20), (3, 0x02, 0x21), (2, 0x00, 0x00)]), &mut f);
        assert_eq!(f, [false, true, false, true]);
        // Other SEI (recovery point, type 6) and other T.35 data are not captions.
        let mut f = [false; 4];
        scan_sei(&[6, 1, 0x84, 5, 4, 0xb5, 0, 0x2f, 1, 2, 0x80], &mut f);
        assert_eq!(f, [false; 4]);
    }
}
