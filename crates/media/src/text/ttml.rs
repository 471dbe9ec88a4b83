//! TTML (W3C TTML2) and its IMSC1 text profile, read into [`Cue`]s.
//!
//! What is read: every `p` of the `body` with its timing (`begin`, `end`,
//! `dur`, relative to the enclosing `body`/`div`/`p` as TTML's default
//! parallel time containment says, §10.2.4), its text with `br` as a line
//! break and the text of its `span`s, whitespace collapsed (§10.3.2
//! `xml:space="default"`) unless `xml:space="preserve"`. Styling, regions
//! and images are not carried (WebVTT out carries text). Time expressions
//! (§10.3.1): clock time `hh:mm:ss[.fff]`, `hh:mm:ss:ff[.sub]` with
//! `ttp:frameRate` (× `ttp:frameRateMultiplier`), and offset time
//! `N(h|m|s|ms|f|t)` with `ttp:tickRate`.
//!
//! Parsing is quick-xml's (a pull parser already in the workspace). The
//! `ttml-subtitle` crate (0.2) was considered: it builds the TTML2 element
//! tree (on roxmltree and a common crate of its own) but leaves `begin` and
//! `end` as strings, so time containment and frame/tick times would still
//! be ours; reading `p` elements on quick-xml is the smaller dependency.
//! Errors name the line.

use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{Cue, line_at};
use crate::error::{Error, Result};

/// Timing parameters of the document (`tt` attributes).
#[derive(Debug, Clone, Copy)]
struct Rates {
    /// Frames per second, multiplier applied.
    frame_rate: f64,
    tick_rate: f64,
}

/// One element being read: its begin (absolute, ms) and, for `p`, the
/// text so far.
struct Open {
    name: String,
    begin: f64,
    end: Option<f64>,
    preserve: bool,
}

/// Reads the cues of a TTML document. `base_ms` is added to every time
/// (0 for a sidecar file).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<Cue>> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Text {
        path: path.to_owned(),
        line: Some(line_at(bytes, e.valid_up_to())),
        message: "not UTF-8 text".into(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let err = |pos: usize, message: String| Error::Text { path: path.to_owned(), line: Some(line_at(text.as_bytes(), pos)), message };
    let mut r = Reader::from_str(text);
    let mut rates = Rates { frame_rate: 30.0, tick_rate: 1.0 };
    let mut stack: Vec<Open> = Vec::new();
    let mut in_body = false;
    let mut saw_tt = false;
    let mut cues: Vec<Cue> = Vec::new();
    // The `p` being read: (start ms, end ms, text, start position).
    let mut current: Option<(f64, f64, String, usize)> = None;
    loop {
        let pos = r.buffer_position() as usize;
        let event = r.read_event().map_err(|e| err(r.error_position() as usize, format!("not well-formed XML: {e}")))?;
        match event {
            Event::Start(e) | Event::Empty(e) if !saw_tt => {
                if local(&e) != "tt" {
                    return Err(err(pos, format!("the root element is <{}>, not <tt> (not TTML)", local(&e))));
                }
                saw_tt = true;
                rates = document_rates(&e).map_err(|m| err(pos, m))?;
                stack.push(Open { name: "tt".into(), begin: 0.0, end: None, preserve: attr(&e, "space").as_deref() == Some("preserve") });
            }
            Event::Start(e) => {
                let name = local(&e);
                let parent = stack.last().map_or((0.0, None, false), |o| (o.begin, o.end, o.preserve));
                let preserve = match attr(&e, "space").as_deref() {
                    Some("preserve") => true,
                    Some("default") => false,
                    _ => parent.2,
                };
                let (begin, end) = timing(&e, parent.0, parent.1, rates).map_err(|m| err(pos, m))?;
                if name == "body" {
                    in_body = true;
                }
                if in_body && name == "p" {
                    let end = end.ok_or_else(|| err(pos, "<p> without end or dur (nor one on its parents)".into()))?;
                    current = Some((begin, end, String::new(), pos));
                }
                stack.push(Open { name, begin, end, preserve });
            }
            Event::Empty(e) => {
                if local(&e) == "br"
                    && let Some((_, _, t, _)) = &mut current
                {
                    t.push('\n');
                }
            }
            Event::Text(t) => {
                if let Some((_, _, text, _)) = &mut current {
                    let s = t.xml10_content();
                    push_text(text, &s, stack.last().is_some_and(|o| o.preserve));
                }
            }
            Event::CData(t) => {
                if let Some((_, _, text, _)) = &mut current {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(g) => {
                if let Some((_, _, text, _)) = &mut current {
                    let resolved = match g.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name = g.xml10_content();
                            match name.as_ref() {
                                "amp" => "&".into(),
                                "lt" => "<".into(),
                                "gt" => ">".into(),
                                "quot" => "\"".into(),
                                "apos" => "'".into(),
                                other => return Err(err(pos, format!("unknown entity &{other};"))),
                            }
                        }
                    };
                    text.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let open = stack.pop();
                if let Some(o) = &open {
                    if o.name == "p"
                        && let Some((start, end, text, at)) = current.take()
                    {
                        let text = super::mp4::clean(&text.lines().map(str::trim).collect::<Vec<_>>().join("\n"));
                        if end <= start {
                            return Err(err(at, format!("<p> ends at {end:.3} ms, not after its begin {start:.3} ms")));
                        }
                        if !text.is_empty() {
                            cues.push(Cue {
                                start_ms: start.round().max(0.0) as u64,
                                end_ms: end.round().max(0.0) as u64,
                                id: None,
                                settings: None,
                                text,
                            });
                        }
                    }
                    if o.name == "body" {
                        in_body = false;
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_tt {
        return Err(err(0, "no <tt> element (not TTML)".into()));
    }
    cues.sort_by_key(|c| (c.start_ms, c.end_ms));
    Ok(cues)
}

fn local(e: &BytesStart<'_>) -> String {
    AsRef::<str>::as_ref(&e.local_name()).to_owned()
}

/// An attribute by local name (any prefix: `xml:lang`, `ttp:frameRate`).
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| AsRef::<str>::as_ref(&a.key.local_name()) == name)
        .map(|a| a.normalized_value(quick_xml::XmlVersion::Explicit1_0).map(|v| v.into_owned()).unwrap_or_default())
}

fn document_rates(e: &BytesStart<'_>) -> std::result::Result<Rates, String> {
    let num = |name: &str| -> std::result::Result<Option<f64>, String> {
        attr(e, name).map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0).ok_or(format!("ttp:{name}=\"{v}\" is not a positive number"))).transpose()
    };
    let mut frame_rate = num("frameRate")?.unwrap_or(30.0);
    if let Some(m) = attr(e, "frameRateMultiplier") {
        let parts: Vec<f64> = m.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if let [n, d] = parts[..]
            && n > 0.0
            && d > 0.0
        {
            frame_rate *= n / d;
        } else {
            return Err(format!("ttp:frameRateMultiplier=\"{m}\" is not two positive numbers"));
        }
    }
    let tick_rate = num("tickRate")?.unwrap_or(frame_rate);
    Ok(Rates { frame_rate, tick_rate })
}

/// Absolute begin and end (ms) of an element whose parent begins at
/// `parent_begin` and ends at `parent_end`.
fn timing(e: &BytesStart<'_>, parent_begin: f64, parent_end: Option<f64>, rates: Rates) -> std::result::Result<(f64, Option<f64>), String> {
    let get = |n: &str| -> std::result::Result<Option<f64>, String> {
        attr(e, n).map(|v| time_ms(&v, rates).ok_or(format!("{n}=\"{v}\" is not a TTML time expression"))).transpose()
    };
    let begin = parent_begin + get("begin")?.unwrap_or(0.0);
    let end = match (get("end")?, get("dur")?) {
        (Some(end), _) => Some(parent_begin + end),
        (None, Some(dur)) => Some(begin + dur),
        (None, None) => parent_end,
    };
    Ok((begin, end))
}

/// A TTML time expression in milliseconds.
fn time_ms(v: &str, rates: Rates) -> Option<f64> {
    let v = v.trim();
    if v.contains(':') {
        let parts: Vec<&str> = v.split(':').collect();
        let (h, m) = (parts.first()?.parse::<f64>().ok()?, parts.get(1)?.parse::<f64>().ok()?);
        let s = parts.get(2)?.parse::<f64>().ok()?;
        let frames = match parts.get(3) {
            Some(f) => f.parse::<f64>().ok()? / rates.frame_rate,
            None => 0.0,
        };
        if parts.len() > 4 || m >= 60.0 || s >= 60.0 {
            return None;
        }
        return Some(((h * 3600.0 + m * 60.0 + s) + frames) * 1000.0);
    }
    let unit_at = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(unit_at);
    let n: f64 = n.parse().ok().filter(|x: &f64| x.is_finite() && *x >= 0.0)?;
    Some(match unit {
        "h" => n * 3_600_000.0,
        "m" => n * 60_000.0,
        "s" => n * 1000.0,
        "ms" => n,
        "f" => n / rates.frame_rate * 1000.0,
        "t" => n / rates.tick_rate * 1000.0,
        _ => return None,
    })
}

/// Appends XML text to a cue, collapsing whitespace unless preserved.
fn push_text(out: &mut String, s: &str, preserve: bool) {
    if preserve {
        out.push_str(s);
        return;
    }
    for (i, word) in s.split_whitespace().enumerate() {
        let first = i == 0;
        if (!first || s.starts_with(char::is_whitespace)) && !out.is_empty() && !out.ends_with(['\n', ' ']) {
            out.push(' ');
        }
        out.push_str(word);
    }
    if s.ends_with(char::is_whitespace) && !out.is_empty() && !out.ends_with(['\n', ' ']) {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<Cue>> {
        parse(Path::new("subs.ttml"), s.as_bytes())
    }

    const IMSC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"
    xmlns:tts="http://www.w3.org/ns/ttml#styling" ttp:frameRate="25" ttp:tickRate="10000000" xml:lang="en">
  <head><styling><style xml:id="s1" tts:color="white"/></styling></head>
  <body>
    <div begin="1s">
      <p begin="00:00:00.500" end="00:00:02.000" style="s1">Hello
        <span tts:fontStyle="italic">world</span></p>
      <p begin="00:00:03:12" dur="1.5s">Two<br/>lines &amp; more</p>
      <p begin="60000000t" end="70000000t">Ticks</p>
    </div>
  </body>
</tt>"#;

    #[test]
    fn imsc_text_profile() {
        let cues = p(IMSC).unwrap();
        let got: Vec<(u64, u64, &str)> = cues.iter().map(|c| (c.start_ms, c.end_ms, c.text.as_str())).collect();
        assert_eq!(
            got,
            vec![(1500, 3000, "Hello world"), (4480, 5980, "Two\nlines & more"), (7000, 8000, "Ticks")]
        );
    }

    #[test]
    fn bad_documents_name_the_line() {
        for (doc, line, what) in [
            ("<tt><body><p begin=\"1s\" end=\"2s\">a</div></body></tt>", "subs.ttml:1:", "not well-formed"),
            ("<?xml version=\"1.0\"?>\n<html/>", "subs.ttml:2:", "not TTML"),
            ("<tt>\n<body>\n<p begin=\"1s\">no end</p></body></tt>", "subs.ttml:3:", "without end"),
            ("<tt>\n<body>\n<p begin=\"1x\" end=\"2s\">a</p></body></tt>", "subs.ttml:3:", "time expression"),
            ("<tt><body>\n\n<p begin=\"3s\" end=\"2s\">a</p></body></tt>", "subs.ttml:3:", "not after its begin"),
        ] {
            let e = p(doc).unwrap_err().to_string();
            assert!(e.starts_with(line) && e.contains(what), "{doc}: {e}");
        }
    }
}
