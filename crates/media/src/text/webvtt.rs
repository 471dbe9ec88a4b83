//! WebVTT in and out (W3C WebVTT).
//!
//! Parsing is the `webvtt-parser` crate's (nom, errors located by line;
//! chosen over `vtt`, which reports no position, and `subtp`, which pulls
//! in more than a parser): a bad timestamp, a missing `WEBVTT` header or a
//! header line run into the first cue is one error naming the file and the
//! line. What it does not check is checked here: cues in start order, a
//! cue's end after its start, text that is UTF-8. `STYLE` and `REGION`
//! blocks are skipped (players style cues themselves; regions are rare),
//! with their lines kept so line numbers stay right.
//!
//! Writing is ours: a cue is an optional identifier line, the timing line
//! with its settings, and its text lines; the text never holds a blank
//! line or `-->` (it came from a parser that ends a cue there).

use std::path::Path;

use webvtt_parser::Vtt;

use super::Cue;
use crate::error::{Error, Result};

/// Reads the cues of a WebVTT file.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Cue>> {
    let err = |line: Option<u32>, message: String| Error::Text { path: path.to_owned(), line, message };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| err(Some(super::line_at(bytes, e.valid_up_to())), "not UTF-8 text (WebVTT is UTF-8)".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if looks_like_xml(text) {
        return Err(err(None, "a TTML (XML) document, not WebVTT".into()));
    }
    let cleaned = skip_style_and_region_blocks(text);
    let vtt = Vtt::parse(&cleaned).map_err(|e| {
        // The parser names what it looked for as nom's error kind.
        let what = match e.looking_for.trim() {
            "Verify" => "a bad timestamp (minutes and seconds below 60) or a cue that ends before it starts",
            "Digit" | "Char" | "MapRes" | "TakeWhileMN" => "a bad timestamp (hh:mm:ss.ttt or mm:ss.ttt)",
            "Tag" if e.line <= 1 => "no WEBVTT header (the first line is WEBVTT, alone or followed by a space)",
            "Tag" => "a bad timing line (start --> end)",
            _ => "not WebVTT",
        };
        err(Some(e.line.max(1)), format!("{what}; a WebVTT cue is a timing line 00:00:01.000 --> 00:00:02.000 then its text"))
    })?;
    let timing_lines: Vec<u32> = cleaned
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("-->"))
        .map(|(i, _)| i as u32 + 1)
        .collect();
    let mut cues = Vec::with_capacity(vtt.cues.len());
    let mut previous_start = 0;
    for (i, c) in vtt.cues.iter().enumerate() {
        let line = timing_lines.get(i).copied();
        let (start_ms, end_ms) = (c.start.as_milliseconds(), c.end.as_milliseconds());
        if end_ms <= start_ms {
            return Err(err(line, format!("cue ends at {} but starts at {}", timestamp(end_ms), timestamp(start_ms))));
        }
        if start_ms < previous_start {
            return Err(err(
                line,
                format!("cue at {} comes after one starting at {} (cues must be in start order)", timestamp(start_ms), timestamp(previous_start)),
            ));
        }
        previous_start = start_ms;
        cues.push(Cue {
            start_ms,
            end_ms,
            id: c.name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned),
            settings: c.cue_settings.map(|s| s.to_string().trim().to_owned()).filter(|s| !s.is_empty()),
            text: c.text.replace("\r\n", "\n"),
        });
    }
    Ok(cues)
}

fn looks_like_xml(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("<?xml") || t.starts_with("<tt")
}

/// `STYLE` and `REGION` blocks (up to the next blank line) become blank
/// lines.
fn skip_style_and_region_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping = false;
    let mut after_blank = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        if after_blank && (content == "STYLE" || content == "REGION" || content.starts_with("STYLE ") || content.starts_with("REGION ")) {
            skipping = true;
        }
        if content.is_empty() {
            skipping = false;
        }
        after_blank = content.is_empty();
        if skipping {
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `HH:MM:SS.mmm`.
pub fn timestamp(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// Appends one cue block (ending with a newline).
pub fn write_cue(out: &mut String, c: &Cue) {
    if let Some(id) = &c.id {
        out.push_str(id);
        out.push('\n');
    }
    out.push_str(&timestamp(c.start_ms));
    out.push_str(" --> ");
    out.push_str(&timestamp(c.end_ms));
    if let Some(s) = &c.settings {
        out.push(' ');
        out.push_str(s);
    }
    out.push('\n');
    out.push_str(&c.text);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<Cue>> {
        parse(Path::new("subs.vtt"), s.as_bytes())
    }

    #[test]
    fn cues_with_ids_settings_and_lines() {
        let cues = p("\u{feff}WEBVTT - English\nKind: captions\n\nNOTE made by hand\n\n1\n00:00:01.000 --> 00:00:02.500 align:start line:0\nHello\nworld\n\n00:03.000 --> 00:04.000\n<i>Bye</i>\n").unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!((cues[0].start_ms, cues[0].end_ms, cues[0].id.as_deref()), (1000, 2500, Some("1")));
        assert_eq!(cues[0].settings.as_deref(), Some("line:0 align:start"));
        assert_eq!(cues[0].text, "Hello\nworld");
        assert_eq!((cues[1].start_ms, cues[1].text.as_str()), (3000, "<i>Bye</i>"));
        let mut out = String::new();
        write_cue(&mut out, &cues[0]);
        assert_eq!(out, "1\n00:00:01.000 --> 00:00:02.500 line:0 align:start\nHello\nworld\n");
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
    }

    #[test]
    fn style_blocks_are_skipped_with_lines_kept() {
        let cues = p("WEBVTT\n\nSTYLE\n::cue { color: red }\n\n00:00:01.000 --> 00:00:02.000\nA\n").unwrap();
        assert_eq!(cues.len(), 1);
        // A line that is no timing line reads as a cue identifier; the
        // error is on the line after it.
        let e = p("WEBVTT\n\nSTYLE\n::cue { color: red }\n\n00:00:01.000 -> 00:00:02.000\nA\n").unwrap_err().to_string();
        assert!(e.starts_with("subs.vtt:7:"), "{e}");
    }

    #[test]
    fn bad_files_name_the_line() {
        for (text, line, what) in [
            ("WEBVTX\n\n00:00:01.000 --> 00:00:02.000\nA\n", "subs.vtt:1:", "WEBVTT"),
            ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n\n00:00:61.000 --> 00:01:02.000\nB\n", "subs.vtt:6:", "bad timestamp"),
            ("WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nA\n", "subs.vtt:3:", "ends before it starts"),
            ("WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nA\n\n00:00:01.000 --> 00:00:02.000\nB\n", "subs.vtt:6:", "start order"),
            ("WEBVTTgarbage\n\n00:00:01.000 --> 00:00:02.000\nA\n", "subs.vtt:1:", ""),
            ("<?xml version=\"1.0\"?><tt/>", "subs.vtt:", "TTML"),
        ] {
            let e = p(text).unwrap_err().to_string();
            assert!(e.starts_with(line) && e.contains(what), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
        let e = parse(Path::new("x.vtt"), b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xff\n").unwrap_err().to_string();
        assert!(e.starts_with("x.vtt:4:") && e.contains("UTF-8"), "{e}");
    }
}
