//! Asset folders as the retired cloud service's encoder wrote them: MP4
//! renditions (`name_1280x720_3400.mp4`, `name_AACAudio_128_eng.mp4`, ...)
//! and a `.ism` server manifest saying which track of which file is a rung
//! of the ladder (issue 17, item 2).
//!
//! Why read the `.ism` rather than take every MP4 of the folder: it is the
//! list the encoder meant (a folder may hold thumbnails, leftovers or a
//! second title), and it carries what the file names only hint at: the kind
//! of each track, its `trackID`, and the language of subtitle sidecars,
//! which have no header of their own to say it. Checking it against the
//! files before anything is uploaded turns a folder damaged in transit (a
//! rendition missing, a file replaced by another) into one line naming the
//! `.ism` element, instead of an asset quietly missing a rung.
//!
//! The `.ism` is SMIL 2.0: `<smil><head>...</head><body><switch>` with one
//! `<video>`, `<audio>` or `<textstream>` per track, `src` the file,
//! `systemBitrate` and `systemLanguage` attributes and `<param
//! name="trackID"|"trackName" value="..."/>` children. Those elements are
//! read anywhere under `<body>`; everything else (`<head>` metadata, the
//! `.ismc` Smooth Streaming client manifest it points to) is ignored, as
//! castguard serves DASH and HLS and measures bit rates itself. Parsing is
//! quick-xml's, as for TTML ([`crate::text::ttml`]); errors name the `.ism`
//! file and line, the element and the attribute.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, Result};
use crate::movie::{Movie, TrackKind};
use crate::text::{TextInput, line_at};

/// A `.ism` larger than this is refused: one lists a few dozen tracks.
const MAX_ISM_BYTES: u64 = 4 << 20;

/// The element an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsmKind {
    Video,
    Audio,
    /// `<textstream>`: subtitles.
    Text,
}

impl IsmKind {
    fn element(self) -> &'static str {
        match self {
            IsmKind::Video => "video",
            IsmKind::Audio => "audio",
            IsmKind::Text => "textstream",
        }
    }
}

/// One track the `.ism` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsmEntry {
    /// `src`: a file name in the folder.
    pub file: String,
    pub kind: IsmKind,
    /// `<param name="trackID">`: the track's id in its file.
    pub track_id: Option<u32>,
    /// `<param name="trackName">`.
    pub track_name: Option<String>,
    /// `systemLanguage`.
    pub language: Option<String>,
    /// `systemBitrate`, bits per second (the encoder's target).
    pub bitrate: Option<u64>,
    /// Line of the element in the `.ism`, for messages.
    pub line: u32,
}

impl IsmEntry {
    /// `<video src="...">`, as messages name the element.
    fn tag(&self) -> String {
        format!("<{} src=\"{}\">", self.kind.element(), self.file)
    }
}

/// A parsed `.ism`.
#[derive(Debug, Clone)]
pub struct Ism {
    pub path: PathBuf,
    /// In document order.
    pub entries: Vec<IsmEntry>,
}

/// What to ingest from a folder: its media files (each once, in `.ism`
/// order) and its subtitle sidecars with their languages.
#[derive(Debug, Clone)]
pub struct Folder {
    /// The `.ism` read.
    pub ism: PathBuf,
    pub media: Vec<PathBuf>,
    pub texts: Vec<TextInput>,
}

/// The tracks of a media file: id and kind, or why a track cannot be used.
pub type TrackList = Vec<(u32, std::result::Result<TrackKind, String>)>;

/// Finds the one `.ism` of `dir`, reads it and checks it against the files
/// (see [`Ism::check`]).
pub fn read_folder(dir: &Path) -> Result<Folder> {
    let ism = find_ism(dir)?;
    let bytes = read_capped(&ism)?;
    let parsed = parse(&ism, &bytes)?;
    parsed.check(dir, tracks_of)
}

/// The one `*.ism` file of `dir`.
fn find_ism(dir: &Path) -> Result<PathBuf> {
    let folder_err = |message: String| Error::Ism {
        path: dir.to_owned(),
        line: None,
        message,
    };
    let mut found: Vec<PathBuf> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = e.map_err(|e| Error::io(dir, e))?.path();
        if path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("ism"))
            && path.is_file()
        {
            found.push(path);
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(folder_err("no .ism server manifest in the folder".into())),
        _ => {
            let names: Vec<String> = found
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            Err(folder_err(format!(
                "{} .ism files ({}): which title? keep one per folder",
                names.len(),
                names.join(", ")
            )))
        }
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > MAX_ISM_BYTES {
        return Err(Error::Ism {
            path: path.to_owned(),
            line: None,
            message: format!("{len} bytes: too large for a server manifest"),
        });
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// The audio and video tracks of an MP4, with the reason for those that
/// cannot be packaged.
fn tracks_of(path: &Path) -> Result<TrackList> {
    let movie = Movie::open(path)?;
    let mut list: TrackList = movie.tracks.iter().map(|t| (t.id, Ok(t.kind))).collect();
    list.extend(movie.skipped.iter().map(|s| (s.id, Err(s.reason.clone()))));
    Ok(list)
}

/// Reads the entries of a `.ism` (syntax only; [`Ism::check`] compares them
/// with the files).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Ism> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Ism {
        path: path.to_owned(),
        line: Some(line_at(bytes, e.valid_up_to())),
        message: "not UTF-8 text".into(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let err = |pos: usize, message: String| Error::Ism {
        path: path.to_owned(),
        line: Some(line_at(text.as_bytes(), pos)),
        message,
    };
    let mut r = Reader::from_str(text);
    let mut saw_root = false;
    let mut depth_in_body: Option<usize> = None;
    let mut depth = 0usize;
    // The entry whose element is open (its `param`s are read into it).
    let mut open: Option<(IsmEntry, usize)> = None;
    let mut entries = Vec::new();
    loop {
        let pos = r.buffer_position() as usize;
        let event = r.read_event().map_err(|e| {
            err(
                r.error_position() as usize,
                format!("not well-formed XML: {e}"),
            )
        })?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some((entry, _)) = open.take_if(|(_, d)| *d == depth) {
                    entries.push(entry);
                }
                if depth_in_body == Some(depth) {
                    depth_in_body = None;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = local(&e);
        if !saw_root {
            if name != "smil" {
                return Err(err(
                    pos,
                    format!("the root element is <{name}>, not <smil> (not a server manifest)"),
                ));
            }
            saw_root = true;
        } else if name == "body" && depth_in_body.is_none() {
            depth_in_body = Some(depth);
        } else if depth_in_body.is_some() {
            let kind = match name.as_str() {
                "video" => Some(IsmKind::Video),
                "audio" => Some(IsmKind::Audio),
                "textstream" => Some(IsmKind::Text),
                _ => None,
            };
            if let Some(kind) = kind {
                if open.is_some() {
                    return Err(err(pos, format!("<{name}> inside another track element")));
                }
                let entry =
                    entry(&e, kind, line_at(text.as_bytes(), pos)).map_err(|m| err(pos, m))?;
                if empty {
                    entries.push(entry);
                } else {
                    open = Some((entry, depth));
                }
            } else if name == "param"
                && let Some((entry, d)) = &mut open
                && *d + 1 == depth
            {
                param(&e, entry).map_err(|m| err(pos, m))?;
            }
        }
        if !empty {
            depth += 1;
        }
    }
    if !saw_root {
        return Err(err(0, "no <smil> element (not a server manifest)".into()));
    }
    if entries.is_empty() {
        return Err(err(
            text.len(),
            "no <video>, <audio> or <textstream> in <body>: nothing to ingest".into(),
        ));
    }
    Ok(Ism {
        path: path.to_owned(),
        entries,
    })
}

fn local(e: &BytesStart<'_>) -> String {
    AsRef::<str>::as_ref(&e.local_name()).to_owned()
}

/// An attribute by local name.
fn attr(e: &BytesStart<'_>, name: &str) -> std::result::Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|x| format!("<{}>: bad attribute: {x}", local(e)))?;
        if AsRef::<str>::as_ref(&a.key.local_name()) == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                .map_err(|x| format!("<{}> {name}: {x}", local(e)))?;
            return Ok(Some(v.trim().to_owned()));
        }
    }
    Ok(None)
}

fn entry(e: &BytesStart<'_>, kind: IsmKind, line: u32) -> std::result::Result<IsmEntry, String> {
    let element = kind.element();
    let file = attr(e, "src")?
        .filter(|s| !s.is_empty())
        .ok_or(format!("<{element}> without src"))?;
    let mut entry = IsmEntry {
        file,
        kind,
        track_id: None,
        track_name: None,
        language: None,
        bitrate: None,
        line,
    };
    if let Some(b) = attr(e, "systemBitrate")? {
        entry.bitrate = Some(b.parse().map_err(|_| {
            format!(
                "{}: systemBitrate=\"{b}\" is not a number of bits per second",
                entry.tag()
            )
        })?);
    }
    entry.language = attr(e, "systemLanguage")?.filter(|l| !l.is_empty());
    Ok(entry)
}

/// Reads a `<param name="..." value="..."/>` into its track entry.
fn param(e: &BytesStart<'_>, entry: &mut IsmEntry) -> std::result::Result<(), String> {
    let (Some(name), value) = (attr(e, "name")?, attr(e, "value")?) else {
        return Ok(());
    };
    let value = value.unwrap_or_default();
    match name.as_str() {
        "trackID" => {
            let id = value.parse::<u32>().ok().filter(|id| *id > 0);
            entry.track_id = Some(id.ok_or(format!(
                "{}: param trackID=\"{value}\" is not a track id (1, 2, ...)",
                entry.tag()
            ))?);
        }
        "trackName" => entry.track_name = Some(value),
        _ => {}
    }
    Ok(())
}

/// Whether `src` is a plain file name: one normal path component, no
/// separator of any platform.
fn plain_name(src: &str) -> bool {
    let mut c = Path::new(src).components();
    matches!((c.next(), c.next()), (Some(Component::Normal(_)), None))
        && !src.contains(['/', '\\'])
        && !src.contains("..")
}

/// Subtitle sidecars the ingest reads (WebVTT, TTML).
fn is_sidecar(src: &str) -> bool {
    let ext = Path::new(src)
        .extension()
        .map(|x| x.to_string_lossy().to_ascii_lowercase());
    matches!(ext.as_deref(), Some("vtt" | "ttml" | "xml" | "dfxp"))
}

impl Ism {
    /// Checks every entry against the folder `dir`: `src` is a plain file
    /// name there, the file exists, a `<video>`/`<audio>` file has the
    /// track `trackID` of that kind (any one of that kind when the `.ism`
    /// gives no `trackID`), a `<textstream>` is a WebVTT or TTML sidecar
    /// with a `systemLanguage`. `tracks` lists a media file's tracks
    /// ([`Movie::open`] in [`read_folder`]).
    pub fn check(
        &self,
        dir: &Path,
        mut tracks: impl FnMut(&Path) -> Result<TrackList>,
    ) -> Result<Folder> {
        let mut media: Vec<PathBuf> = Vec::new();
        let mut texts = Vec::new();
        let mut seen: HashMap<String, TrackList> = HashMap::new();
        for entry in &self.entries {
            let err = |message: String| Error::Ism {
                path: self.path.clone(),
                line: Some(entry.line),
                message: format!("{}: {message}", entry.tag()),
            };
            if !plain_name(&entry.file) {
                return Err(err(
                    "src must be a file name in the folder (no '/', '\\' or '..')".into(),
                ));
            }
            let path = dir.join(&entry.file);
            if !path.is_file() {
                return Err(err(format!("{}: no such file in the folder", entry.file)));
            }
            if entry.kind == IsmKind::Text {
                if !is_sidecar(&entry.file) {
                    return Err(err("only WebVTT (.vtt) or TTML (.ttml, .xml, .dfxp) subtitle files can be ingested".into()));
                }
                let lang = match entry.language.as_deref() {
                    None => return Err(err("no systemLanguage: a subtitle track needs its language (e.g. systemLanguage=\"eng\")".into())),
                    Some(l) if l.eq_ignore_ascii_case("und") => {
                        return Err(err("systemLanguage=\"und\": a subtitle track needs its language (e.g. systemLanguage=\"eng\")".into()));
                    }
                    Some(l) => l,
                };
                let input = TextInput::parse(&format!("{lang}={}", path.display()))
                    .map_err(|m| err(format!("systemLanguage=\"{lang}\": {m}")))?;
                texts.push(input);
                continue;
            }
            if !seen.contains_key(&entry.file) {
                let list = tracks(&path).map_err(|e| err(e.to_string()))?;
                seen.insert(entry.file.clone(), list);
                media.push(path);
            }
            let list = seen.get(&entry.file).map(Vec::as_slice).unwrap_or_default();
            check_track(entry, list).map_err(err)?;
        }
        Ok(Folder {
            ism: self.path.clone(),
            media,
            texts,
        })
    }
}

/// Whether `list` (the tracks of the entry's file) has the track the entry
/// names, of its kind.
fn check_track(
    entry: &IsmEntry,
    list: &[(u32, std::result::Result<TrackKind, String>)],
) -> std::result::Result<(), String> {
    let want = if entry.kind == IsmKind::Video {
        TrackKind::Video
    } else {
        TrackKind::Audio
    };
    let kind_name = |k: TrackKind| {
        if k == TrackKind::Video {
            "video"
        } else {
            "audio"
        }
    };
    let Some(id) = entry.track_id else {
        return if list
            .iter()
            .any(|(_, k)| k.as_ref().is_ok_and(|k| *k == want))
        {
            Ok(())
        } else {
            Err(format!("{} has no {} track", entry.file, kind_name(want)))
        };
    };
    match list.iter().find(|(i, _)| *i == id) {
        Some((_, Ok(k))) if *k == want => Ok(()),
        Some((_, Ok(k))) => Err(format!(
            "param trackID=\"{id}\": track {id} of {} is {}, not {}",
            entry.file,
            kind_name(*k),
            kind_name(want)
        )),
        Some((_, Err(why))) => Err(format!(
            "param trackID=\"{id}\": track {id} of {} cannot be ingested: {why}",
            entry.file
        )),
        None => {
            let have: Vec<String> = list
                .iter()
                .map(|(i, k)| match k {
                    Ok(k) => format!("{} {i}", kind_name(*k)),
                    Err(_) => format!("unusable {i}"),
                })
                .collect();
            Err(format!(
                "param trackID=\"{id}\": {} has no track {id} (its tracks: {})",
                entry.file,
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<smil xmlns="http://www.w3.org/2001/SMIL20/Language">
  <head>
    <meta name="clientManifestRelativePath" content="movie.ismc" />
  </head>
  <body>
    <switch>
      <video src="movie_640x360_700.mp4" systemBitrate="700000">
        <param name="trackID" value="2" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <audio src="movie_AACAudio_128_eng.mp4" systemBitrate="128000" systemLanguage="eng">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="aac_eng_2_128" valuetype="data" />
      </audio>
      <textstream src="movie_fra.vtt" systemLanguage="fra" />
    </switch>
  </body>
</smil>
"#;

    fn p(s: &str) -> Result<Ism> {
        parse(Path::new("movie.ism"), s.as_bytes())
    }

    /// A folder holding `files` (empty), and the tracks its fake MP4s have.
    fn folder(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        dir
    }

    fn fake_tracks(path: &Path) -> Result<TrackList> {
        Ok(match path.file_name().and_then(|n| n.to_str()) {
            Some("movie_640x360_700.mp4") => vec![
                (1, Err("tmcd: not audio or video".into())),
                (2, Ok(TrackKind::Video)),
            ],
            _ => vec![(1, Ok(TrackKind::Audio))],
        })
    }

    const ALL: &[&str] = &[
        "movie_640x360_700.mp4",
        "movie_AACAudio_128_eng.mp4",
        "movie_fra.vtt",
    ];

    #[test]
    fn reads_the_tracks_in_order() {
        let ism = p(GOOD).unwrap();
        let e = &ism.entries;
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0],
            IsmEntry {
                file: "movie_640x360_700.mp4".into(),
                kind: IsmKind::Video,
                track_id: Some(2),
                track_name: Some("video".into()),
                language: None,
                bitrate: Some(700_000),
                line: 8,
            }
        );
        assert_eq!(
            (
                e[1].kind,
                e[1].track_id,
                e[1].language.as_deref(),
                e[1].track_name.as_deref()
            ),
            (IsmKind::Audio, Some(1), Some("eng"), Some("aac_eng_2_128"))
        );
        assert_eq!(
            (e[2].kind, e[2].track_id, e[2].language.as_deref()),
            (IsmKind::Text, None, Some("fra"))
        );

        let dir = folder(ALL);
        let f = ism.check(dir.path(), fake_tracks).unwrap();
        let names: Vec<_> = f
            .media
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            ["movie_640x360_700.mp4", "movie_AACAudio_128_eng.mp4"]
        );
        assert_eq!(f.texts.len(), 1);
        assert_eq!(f.texts[0].language, "fr");
    }

    #[test]
    fn a_file_listed_twice_is_uploaded_once() {
        let s = GOOD
            .replace("movie_AACAudio_128_eng.mp4", "movie_640x360_700.mp4")
            .replace(r#"value="1""#, r#"value="3""#);
        let ism = p(&s).unwrap();
        let dir = folder(ALL);
        let tracks = |_: &Path| -> Result<TrackList> {
            Ok(vec![(2, Ok(TrackKind::Video)), (3, Ok(TrackKind::Audio))])
        };
        assert_eq!(ism.check(dir.path(), tracks).unwrap().media.len(), 1);
    }

    fn check_err(s: &str, files: &[&str]) -> String {
        let ism = p(s).unwrap();
        let dir = folder(files);
        ism.check(dir.path(), fake_tracks).unwrap_err().to_string()
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = check_err(GOOD, &["movie_640x360_700.mp4", "movie_fra.vtt"]);
        assert_eq!(
            e,
            "movie.ism:12: <audio src=\"movie_AACAudio_128_eng.mp4\">: movie_AACAudio_128_eng.mp4: no such file in the folder"
        );
    }

    #[test]
    fn src_must_stay_in_the_folder() {
        for bad in [
            "../movie_640x360_700.mp4",
            "sub/movie_640x360_700.mp4",
            "/etc/passwd",
            "..",
            "a\\b.mp4",
        ] {
            let e = check_err(&GOOD.replace("movie_640x360_700.mp4", bad), ALL);
            assert!(
                e.starts_with("movie.ism:8: <video src=")
                    && e.contains("must be a file name in the folder"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_track_not_in_its_file_is_named() {
        let e = check_err(&GOOD.replace(r#"value="2""#, r#"value="5""#), ALL);
        assert_eq!(
            e,
            "movie.ism:8: <video src=\"movie_640x360_700.mp4\">: param trackID=\"5\": movie_640x360_700.mp4 has no track 5 (its tracks: unusable 1, video 2)"
        );
        let e = check_err(&GOOD.replace(r#"value="2""#, r#"value="1""#), ALL);
        assert!(
            e.contains("track 1 of movie_640x360_700.mp4 cannot be ingested: tmcd"),
            "{e}"
        );
        let e = check_err(
            &GOOD
                .replace(
                    r#"<video src="movie_640x360_700.mp4""#,
                    r#"<video src="movie_AACAudio_128_eng.mp4""#,
                )
                .replace(r#"value="2""#, r#"value="1""#),
            ALL,
        );
        assert!(
            e.contains("track 1 of movie_AACAudio_128_eng.mp4 is audio, not video"),
            "{e}"
        );
    }

    #[test]
    fn subtitles_need_a_language_and_a_sidecar_format() {
        let e = check_err(
            &GOOD.replace(r#"systemLanguage="fra""#, r#"systemLanguage="und""#),
            ALL,
        );
        assert!(
            e.starts_with(
                "movie.ism:16: <textstream src=\"movie_fra.vtt\">: systemLanguage=\"und\""
            ),
            "{e}"
        );
        let e = check_err(&GOOD.replace(r#" systemLanguage="fra""#, ""), ALL);
        assert!(e.contains("no systemLanguage"), "{e}");
        let e = check_err(
            &GOOD.replace("movie_fra.vtt", "movie_fra.ismt"),
            &[
                "movie_640x360_700.mp4",
                "movie_AACAudio_128_eng.mp4",
                "movie_fra.ismt",
            ],
        );
        assert!(e.contains("only WebVTT"), "{e}");
    }

    #[test]
    fn bad_documents_name_the_line() {
        for (doc, want) in [
            (
                "<smil>\n<body>\n<video src=\"a.mp4\"></audio></body></smil>",
                "movie.ism:3: not well-formed XML",
            ),
            (
                "<?xml version=\"1.0\"?>\n<html/>",
                "movie.ism:2: the root element is <html>",
            ),
            (
                "<smil><body>\n<video systemBitrate=\"1\"/></body></smil>",
                "movie.ism:2: <video> without src",
            ),
            (
                "<smil><body>\n<video src=\"a.mp4\" systemBitrate=\"fast\"/></body></smil>",
                "movie.ism:2: <video src=\"a.mp4\">: systemBitrate=\"fast\"",
            ),
            (
                "<smil><body><switch>\n<audio src=\"a.mp4\">\n<param name=\"trackID\" value=\"x\"/></audio></switch></body></smil>",
                "movie.ism:3: <audio src=\"a.mp4\">: param trackID=\"x\"",
            ),
            ("<smil><head/><body/>\n</smil>", "movie.ism:2: no <video>"),
            ("", "movie.ism:1: no <smil>"),
        ] {
            let e = p(doc).unwrap_err().to_string();
            assert!(e.starts_with(want), "{doc:?}: {e}");
        }
        assert!(p("<smil>\u{0}\u{ff}").is_err());
        assert_eq!(
            parse(Path::new("movie.ism"), b"<smil>\n\xff</smil>")
                .unwrap_err()
                .to_string(),
            "movie.ism:2: not UTF-8 text"
        );
    }

    #[test]
    fn the_folder_has_one_ism() {
        let dir = folder(&["a.mp4"]);
        assert!(
            read_folder(dir.path())
                .unwrap_err()
                .to_string()
                .ends_with(": no .ism server manifest in the folder")
        );
        std::fs::write(dir.path().join("a.ism"), GOOD).unwrap();
        std::fs::write(dir.path().join("b.ism"), GOOD).unwrap();
        assert!(
            read_folder(dir.path())
                .unwrap_err()
                .to_string()
                .ends_with(": 2 .ism files (a.ism, b.ism): which title? keep one per folder")
        );
    }
}
