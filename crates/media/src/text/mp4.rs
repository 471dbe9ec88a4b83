//! Text tracks inside MP4 files: 3GPP timed text (`tx3g`, what ffmpeg's
//! `mov_text` writes, 3GPP TS 26.245 §5.17), WebVTT (`wvtt`, ISO/IEC
//! 14496-30 §7) and TTML (`stpp`, §6: one TTML document per sample, its
//! times on the track's timeline, as Shaka Packager and DASH-IF write
//! it), read into [`Cue`]s.
//!
//! A `tx3g` sample is a 16-bit text length, the text (UTF-8, or UTF-16
//! with a byte order mark), then style modifier boxes, which are dropped:
//! WebVTT out carries the text only. An empty sample is a gap. A `wvtt`
//! sample is one `vttc` box per cue active during it, or `vtte` for none;
//! a cue spanning samples (as packagers split them at fragment boundaries)
//! comes back whole by merging contiguous pieces with the same identifier,
//! settings and text.
//!
//! Times are presentation times in milliseconds: `dts + cts − shift`
//! (the edit list), rounded to the nearest millisecond.

use bmff::sample_table::Sample;

use super::Cue;

/// The handlers of text tracks: `text` (QuickTime and ISO/IEC 14496-30),
/// `sbtl` (QuickTime subtitles), `subt` (ISO/IEC 14496-12 §12.6).
pub fn is_text_handler(handler: &[u8; 4]) -> bool {
    matches!(handler, b"text" | b"sbtl" | b"subt")
}

/// The sample entry kinds read here.
pub fn is_supported(kind: &[u8; 4]) -> bool {
    matches!(kind, b"tx3g" | b"wvtt" | b"stpp")
}

/// Cues from the samples of a text track whose entry is `kind`; `bytes`
/// holds each sample's data in order. `Err` names what is wrong.
pub fn cues(kind: &[u8; 4], samples: &[Sample], bytes: &[Vec<u8>], timescale: u32, shift: i64) -> Result<Vec<Cue>, String> {
    let ts = i128::from(timescale.max(1));
    let ms = |t: i128| u64::try_from(((t.max(0)) * 1000 + ts / 2) / ts).unwrap_or(u64::MAX);
    let mut out: Vec<Cue> = Vec::new();
    for (i, (s, data)) in samples.iter().zip(bytes).enumerate() {
        let start = i128::from(s.dts) + i128::from(s.cts_offset) - i128::from(shift);
        let (start_ms, end_ms) = (ms(start), ms(start + i128::from(s.duration)));
        if end_ms <= start_ms {
            continue;
        }
        if kind == b"stpp" {
            let doc = super::ttml::parse(std::path::Path::new("stpp"), data).map_err(|e| format!("sample {}: {e}", i + 1))?;
            for c in doc {
                // A cue repeated in each sample it overlaps comes once.
                if !out.iter().any(|o| o.start_ms == c.start_ms && o.end_ms == c.end_ms && o.text == c.text) {
                    out.push(c);
                }
            }
            continue;
        }
        let found = match kind {
            b"tx3g" => tx3g_text(data).map(|t| t.into_iter().map(|text| (None, None, text)).collect()),
            _ => wvtt_cues(data),
        }
        .map_err(|e| format!("sample {}: {e}", i + 1))?;
        for (id, settings, text) in found {
            // The same cue continued from the previous sample.
            if let Some(prev) = out.iter_mut().rev().find(|c| c.end_ms == start_ms && c.text == text && c.id == id && c.settings == settings) {
                prev.end_ms = end_ms;
                continue;
            }
            out.push(Cue { start_ms, end_ms, id, settings, text });
        }
    }
    out.sort_by_key(|c| c.start_ms);
    Ok(out)
}

/// The text of a `tx3g` sample (`None`-like empty vector for a gap).
fn tx3g_text(data: &[u8]) -> Result<Vec<String>, String> {
    let len = match data.get(..2) {
        Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
        None if data.is_empty() => return Ok(Vec::new()),
        None => return Err("tx3g sample shorter than its length field".into()),
    };
    let text = data.get(2..2 + len).ok_or("tx3g text length past the sample")?;
    let text = if let Some(utf16) = text.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = utf16.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        String::from_utf16(&units).map_err(|_| "tx3g text is not valid UTF-16")?
    } else {
        String::from_utf8(text.to_vec()).map_err(|_| "tx3g text is not valid UTF-8")?
    };
    let text = clean(&text);
    Ok(if text.is_empty() { Vec::new() } else { vec![text] })
}

type WvttCue = (Option<String>, Option<String>, String);

/// The cues of a `wvtt` sample: `(identifier, settings, payload)` each.
fn wvtt_cues(data: &[u8]) -> Result<Vec<WvttCue>, String> {
    let mut out = Vec::new();
    for (kind, body) in boxes(data)? {
        match &kind {
            b"vttc" => {
                let (mut id, mut settings, mut text) = (None, None, String::new());
                for (k, b) in boxes(body)? {
                    let s = String::from_utf8(b.to_vec()).map_err(|_| format!("'{}' is not UTF-8", String::from_utf8_lossy(&k)))?;
                    match &k {
                        b"iden" => id = Some(s).filter(|s| !s.trim().is_empty()).map(|s| clean(&s)),
                        b"sttg" => settings = Some(s).filter(|s| !s.trim().is_empty()).map(|s| clean(&s)),
                        b"payl" => text = clean(&s),
                        _ => {}
                    }
                }
                if !text.is_empty() {
                    out.push((id, settings, text));
                }
            }
            b"vtte" | b"vtta" => {}
            other => return Err(format!("unexpected '{}' box in a wvtt sample", String::from_utf8_lossy(other))),
        }
    }
    Ok(out)
}

/// A child box: its type and body.
type ChildBox<'a> = ([u8; 4], &'a [u8]);

/// Child boxes of a buffer (`bmff::iter_boxes`).
fn boxes(data: &[u8]) -> Result<Vec<ChildBox<'_>>, String> {
    bmff::iter_boxes(data).map(|b| b.map(|(h, body)| (h.kind.0, body)).map_err(|e| e.to_string())).collect()
}

/// Text safe to write as a WebVTT cue payload: CR LF as LF, no blank line
/// (it would end the cue), no `-->` (it would start one), no NULs.
pub(crate) fn clean(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace(['\r', '\0'], "").replace("-->", "->");
    text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dts: u64, duration: u32) -> Sample {
        Sample { offset: 0, size: 0, dts, duration, cts_offset: 0, is_sync: true, description_index: 1 }
    }

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn tx3g_samples_as_ffmpeg_writes_them() {
        let samples = [sample(0, 500), sample(500, 1500), sample(2000, 1000), sample(3000, 2250)];
        let mut styled = vec![0, 5];
        styled.extend_from_slice(b"Hello");
        styled.extend(bx(b"styl", &[0, 1, 0, 0, 0, 5, 0, 1, 1, 0x12, 0xff, 0xff, 0xff, 0xff]));
        let utf16: Vec<u8> = [&[0u8, 8, 0xfe, 0xff][..], &[0, b'H', 0, b'i', 0, b'!']].concat();
        let bytes = vec![vec![0, 0], styled, vec![0, 0], utf16];
        let cues = cues(b"tx3g", &samples, &bytes, 1000, 0).unwrap();
        let got: Vec<(u64, u64, &str)> = cues.iter().map(|c| (c.start_ms, c.end_ms, c.text.as_str())).collect();
        assert_eq!(got, vec![(500, 2000, "Hello"), (3000, 5250, "Hi!")]);
        assert!(super::cues(b"tx3g", &[sample(0, 10)], &[vec![0, 9, b'x']], 1000, 0).unwrap_err().contains("sample 1"));
    }

    #[test]
    fn wvtt_pieces_merge_into_whole_cues() {
        let vttc = |text: &str| bx(b"vttc", &[bx(b"sttg", b"line:0"), bx(b"payl", text.as_bytes())].concat());
        let samples = [sample(0, 1000), sample(1000, 1000), sample(2000, 1000), sample(3000, 1000)];
        let bytes = vec![bx(b"vtte", &[]), vttc("a"), [vttc("a"), vttc("b")].concat(), vttc("b")];
        let c = cues(b"wvtt", &samples, &bytes, 1000, 0).unwrap();
        let got: Vec<(u64, u64, &str, Option<&str>)> = c.iter().map(|c| (c.start_ms, c.end_ms, c.text.as_str(), c.settings.as_deref())).collect();
        assert_eq!(got, vec![(1000, 3000, "a", Some("line:0")), (2000, 4000, "b", Some("line:0"))]);
        assert!(cues(b"wvtt", &[sample(0, 1)], &[vec![0, 0, 0, 9, b'v']], 1000, 0).is_err());
    }

    #[test]
    fn edit_list_shift_and_timescale() {
        let samples = [sample(90_000, 90_000)];
        let c = cues(b"tx3g", &samples, &[[&[0u8, 1][..], b"x"].concat()], 90_000, 45_000).unwrap();
        assert_eq!((c[0].start_ms, c[0].end_ms), (500, 1500));
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("a\r\n\r\nb --> c\0"), "a\nb -> c");
    }
}
