//! Shared harness for the end-to-end tests: fixtures, the binary under test,
//! and independent judges of its output (ffmpeg, Shaka Packager, pywidevine).
//!
//! Why independent tools: our own parser reading our own writer proves only
//! that we agree with ourselves (see /work/shared/TESTING.md). Every check here
//! compares what ffmpeg decodes from the protected output with what it decodes
//! from the clear input, by the framemd5 hash column:
//! - video as decoded frames (`-map 0:v -f framemd5`),
//! - audio as packets (`-map 0:a:N -c copy -f framemd5`), because decoded AAC
//!   differs in its first frame whenever two files signal priming differently.
//!
//! Segmented CENC output is fed to ffmpeg as one stream on a pipe
//! (`cat init.mp4 1.m4s 2.m4s … | ffmpeg -decryption_key K -f mp4 -i pipe:0`):
//! ffmpeg 5.1 mis-reads the same bytes from a seekable file once there are three
//! or more fragments ("Incorrect number of samples in encryption info").
//!
//! Tools come from the environment that `scripts/test.sh` sets
//! (`CASTGUARD_FIXTURES`, `CASTGUARD_PYTHON`, `CASTGUARD_SHAKA`); without it the
//! fixtures are made here by `scripts/make-fixtures.sh` and the venv and
//! Shaka are looked up where `scripts/install-test-tools.sh` puts them.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub mod certs;
pub mod live;

/// Test key pair 1 (documented in scripts/README.md): the key most tests package with.
pub const KID1: &str = "00112233445566778899aabbccddeeff";
pub const KEY1: &str = "000102030405060708090a0b0c0d0e0f";
/// Test key pair 2: a second, valid key that must NOT decrypt content packaged with key 1.
pub const KID2: &str = "ffeeddccbbaa99887766554433221100";
pub const KEY2: &str = "0f0e0d0c0b0a09080706050403020100";

/// The fixtures every e2e test runs over (made by scripts/make-fixtures.sh).
pub const FIXTURES: &[&str] = &[
    "h264_aac_bframes.mp4",
    "h264_aac_nob.mp4",
    "h264_2audio.mp4",
    "h265_aac.mp4",
    "odd_gop.mp4",
];

pub fn repo_root() -> PathBuf {
    // crates/castguard -> repo root
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Absolute fixtures directory: `$CASTGUARD_FIXTURES`, or `target/fixtures`
/// made on first use by `scripts/make-fixtures.sh` (needs ffmpeg).
pub fn fixtures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CASTGUARD_FIXTURES") {
            let dir = PathBuf::from(dir);
            assert!(
                dir.is_dir(),
                "CASTGUARD_FIXTURES={} is not a directory",
                dir.display()
            );
            return dir;
        }
        let dir = repo_root().join("target/fixtures");
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/make-fixtures.sh"))
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/make-fixtures.sh");
        assert!(
            out.status.success(),
            "scripts/make-fixtures.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

pub fn fixture(name: &str) -> PathBuf {
    let p = fixtures_dir().join(name);
    assert!(p.is_file(), "fixture {} missing", p.display());
    p
}

fn tool(var: &str, default: &str, hint: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(default));
    assert!(
        p.is_file(),
        "{} not found at {} ({var} unset?): run {hint}",
        default,
        p.display()
    );
    p
}

/// The venv python with pywidevine, m3u8, mpegdash and lxml.
pub fn python() -> PathBuf {
    tool(
        "CASTGUARD_PYTHON",
        ".venv/bin/python",
        "scripts/install-test-tools.sh",
    )
}

/// Shaka Packager (npm shaka-packager@3.4.2's static binary).
pub fn shaka() -> PathBuf {
    tool(
        "CASTGUARD_SHAKA",
        "node_modules/shaka-packager/bin/packager-linux-x64",
        "scripts/install-test-tools.sh",
    )
}

/// `tests/cpix_check.py ARGS…` (lxml and Python `cryptography` judging a
/// CPIX document; its docs give the commands and the JSON they print).
pub fn cpix_check(args: &[&Path]) -> serde_json::Value {
    let o = run(Command::new(python())
        .arg(repo_root().join("crates/castguard/tests/cpix_check.py"))
        .args(args));
    assert_ok("cpix_check.py", &o);
    serde_json::from_slice(&o.stdout).expect("cpix_check.py prints JSON")
}

/// The binary under test.
pub fn castguard() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_castguard"));
    c.stdin(Stdio::null());
    c
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()))
}

/// Runs `castguard package IN --out OUT ARGS…`.
pub fn package(input: &Path, out: &Path, args: &[&str]) -> Output {
    run(castguard()
        .arg("package")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(args))
}

/// Runs `castguard package IN… --out OUT ARGS…` on a title of several files.
pub fn package_title(inputs: &[PathBuf], out: &Path, args: &[&str]) -> Output {
    run(castguard()
        .arg("package")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .args(args))
}

/// What PyPI `mpegdash` and `m3u8` (strict) read in an output folder's
/// manifests (`tests/manifest_facts.py`; its docs give the JSON's shape).
pub fn manifest_facts(out: &Path) -> serde_json::Value {
    let script = repo_root().join("crates/castguard/tests/manifest_facts.py");
    let o = run(Command::new(python()).arg(script).arg(out));
    assert_ok("manifest_facts.py", &o);
    serde_json::from_slice(&o.stdout).expect("manifest_facts.py prints JSON")
}

/// `tests/rotation_check.py ARGS…` (lxml, hashlib and hmac on key
/// rotation: an MPD's periods, a period's key): the JSON it printed.
pub fn rotation_check(args: &[&str]) -> serde_json::Value {
    let o = run(Command::new(python())
        .arg(repo_root().join("crates/castguard/tests/rotation_check.py"))
        .args(args));
    assert_ok("rotation_check.py", &o);
    serde_json::from_slice(&o.stdout).expect("rotation_check.py prints JSON")
}

/// Panics unless lxml finds `doc` valid against the CPIX 2.3 schema
/// (`tests/cpix/schema/cpix.xsd`).
pub fn assert_cpix_schema_valid(doc: &Path) {
    let xsd = repo_root().join("tests/cpix/schema/cpix.xsd");
    let v = cpix_check(&[Path::new("validate"), doc, &xsd]);
    assert_eq!(v["valid"], true, "{}: {v}", doc.display());
}

/// The Chromium to drive (`$CASTGUARD_CHROMIUM`, else Debian's), after
/// checking that it and the npm packages `modules` are installed: the
/// browser tests fail, never skip, when they are missing.
pub fn chromium(modules: &[&str]) -> String {
    let chromium =
        std::env::var("CASTGUARD_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: run scripts/install-test-tools.sh"
    );
    for m in modules {
        assert!(
            repo_root().join("node_modules").join(m).is_dir(),
            "node_modules/{m} missing: run scripts/install-test-tools.sh"
        );
    }
    chromium
}

/// Runs `node crates/castguard/tests/browser/SCRIPT ARGS…` from the
/// repository root; its stdout (echoed to stderr for the log) and the
/// JSON lines it printed.
pub fn node_script(script: &str, args: &[std::ffi::OsString]) -> (Output, Vec<serde_json::Value>) {
    let root = repo_root();
    let out = Command::new("node")
        .arg(root.join("crates/castguard/tests/browser").join(script))
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run node {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let results = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out, results)
}

/// Panics with the tool's stderr unless it exited 0.
pub fn assert_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// Temporary directories

/// A fresh directory under the system temp dir, removed on drop (kept when
/// `CASTGUARD_KEEP_TMP` is set, to inspect a failure).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("castguard-e2e-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("CASTGUARD_KEEP_TMP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        } else {
            eprintln!("kept {}", self.0.display());
        }
    }
}

// ---------------------------------------------------------------------------
// Input description (ffprobe)

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// ffmpeg's stream index in the file.
    pub index: usize,
    /// "video" or "audio".
    pub kind: String,
    /// The MP4 track_ID.
    pub track_id: u32,
}

impl Stream {
    /// The output directory name castguard uses for this track.
    pub fn dir_name(&self) -> String {
        format!("{}_{}", self.kind, self.track_id)
    }
}

/// The video and audio streams of an MP4, in file order, with their track ids.
pub fn streams(input: &Path) -> Vec<Stream> {
    let out = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=index,codec_type,id",
            "-of",
            "csv=p=0",
        ])
        .arg(input));
    assert_ok("ffprobe streams", &out);
    let mut v = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "0,video,0x1"
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [index, kind, id] = f.as_slice() else {
            continue;
        };
        if *kind != "video" && *kind != "audio" {
            continue;
        }
        let track_id = u32::from_str_radix(id.trim_start_matches("0x"), 16)
            .unwrap_or_else(|_| panic!("ffprobe id {id:?} in {line:?}"));
        v.push(Stream {
            index: index.parse().expect("stream index"),
            kind: kind.to_string(),
            track_id,
        });
    }
    v
}

// ---------------------------------------------------------------------------
// framemd5

/// The hash column (the sixth, `awk -F', *' '{print $6}'`) of framemd5 output.
/// Not the last column: a packet with side data (AAC priming from an edit
/// list) has a further one.
pub fn framemd5_hashes(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(',').map(str::trim).nth(5).map(str::to_string))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Media {
    /// Decoded video frames of the first video stream.
    Video,
    /// Packets of the Nth audio stream (0-based among audio streams).
    Audio(usize),
    /// Decoded video frames of the Nth video stream (a file holding a ladder).
    VideoN(usize),
}

fn hash_args(media: Media) -> Vec<String> {
    match media {
        Media::Video => [
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ]
        .map(String::from)
        .to_vec(),
        Media::VideoN(n) => vec![
            "-map".into(),
            format!("0:v:{n}"),
            "-fps_mode".into(),
            "passthrough".into(),
            "-f".into(),
            "framemd5".into(),
            "-".into(),
        ],
        Media::Audio(n) => vec![
            "-map".into(),
            format!("0:a:{n}"),
            "-c".into(),
            "copy".into(),
            "-f".into(),
            "framemd5".into(),
            "-".into(),
        ],
    }
}

fn ffmpeg_hashes(input_args: &[String], stdin: Stdio, media: Media) -> Result<Vec<String>, String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error"])
        .args(input_args)
        .args(hash_args(media))
        .stdin(stdin)
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffmpeg {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let h = framemd5_hashes(&String::from_utf8_lossy(&out.stdout));
    if h.is_empty() {
        return Err(format!(
            "ffmpeg produced no frames: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(h)
}

/// framemd5 hashes of a (clear) file: decoded frames for video, packets for audio.
pub fn file_hashes(path: &Path, media: Media) -> Result<Vec<String>, String> {
    ffmpeg_hashes(
        &["-i".into(), path.display().to_string()],
        Stdio::null(),
        media,
    )
}

/// Cached hashes of a fixture (clear input), computed once per test binary.
pub fn clear_hashes(input: &Path, media: Media) -> Vec<String> {
    type Cache = Mutex<HashMap<(PathBuf, Media), Vec<String>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (input.to_path_buf(), media);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return v.clone();
    }
    let v = file_hashes(input, media)
        .unwrap_or_else(|e| panic!("hashing clear {} {media:?}: {e}", input.display()));
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, v.clone());
    v
}

// ---------------------------------------------------------------------------
// Segmented track output

/// The media segments `<n>.m4s` of a track directory in numeric order,
/// checking they are numbered 1, 2, 3… without gaps.
pub fn segments(track_dir: &Path) -> Vec<PathBuf> {
    let mut numbered: Vec<(u64, PathBuf)> = fs::read_dir(track_dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", track_dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "m4s"))
        .filter_map(|p| {
            p.file_stem()?
                .to_str()?
                .parse::<u64>()
                .ok()
                .map(|n| (n, p.clone()))
        })
        .collect();
    numbered.sort();
    let ns: Vec<u64> = numbered.iter().map(|(n, _)| *n).collect();
    let want: Vec<u64> = (1..=numbered.len() as u64).collect();
    assert_eq!(
        ns,
        want,
        "segments of {} must be numbered 1..n",
        track_dir.display()
    );
    numbered.into_iter().map(|(_, p)| p).collect()
}

/// init.mp4 followed by every segment, as one fragmented MP4 file.
pub fn concat_track(track_dir: &Path, dst: &Path) {
    let mut out = File::create(dst).expect("create concat file");
    let init = track_dir.join("init.mp4");
    let mut bytes = fs::read(&init).unwrap_or_else(|e| panic!("read {}: {e}", init.display()));
    out.write_all(&bytes).expect("write");
    for s in segments(track_dir) {
        bytes = fs::read(&s).unwrap_or_else(|e| panic!("read {}: {e}", s.display()));
        out.write_all(&bytes).expect("write");
    }
}

/// Decrypts a track directory with ffmpeg (`-decryption_key KEY`, or none for
/// clear output) by piping init + segments to `-f mp4 -i pipe:0`, and hashes
/// it. `Err` carries ffmpeg's complaint (a wrong key may give one, or not).
pub fn track_hashes(
    track_dir: &Path,
    key: Option<&str>,
    media: Media,
) -> Result<Vec<String>, String> {
    let tmp = TempDir::new("concat");
    let cat = tmp.join("track.mp4");
    concat_track(track_dir, &cat);
    let mut args: Vec<String> = Vec::new();
    if let Some(k) = key {
        args.extend(["-decryption_key".into(), k.into()]);
    }
    args.extend(["-f", "mp4", "-i", "pipe:0"].map(String::from));
    let stdin = File::open(&cat).map_err(|e| e.to_string())?;
    ffmpeg_hashes(&args, Stdio::from(stdin), media)
}

/// Checks a packaged output directory against the clear input: every video
/// and audio track of `input` has a directory `<kind>_<track id>` in `out`
/// whose content, decrypted with `key`, hashes like the input's. Returns the
/// number of tracks checked.
pub fn assert_tracks_match(input: &Path, out: &Path, key: Option<&str>) -> usize {
    let streams = streams(input);
    let mut audio_n = 0;
    let mut checked = 0;
    for s in &streams {
        let (clear_media, out_media) = match s.kind.as_str() {
            "video" => (Media::Video, Media::Video),
            _ => {
                audio_n += 1;
                (Media::Audio(audio_n - 1), Media::Audio(0))
            }
        };
        if s.kind == "video" && streams.iter().filter(|x| x.kind == "video").count() > 1 {
            panic!("fixtures have one video track");
        }
        let dir = out.join(s.dir_name());
        assert!(
            dir.is_dir(),
            "{} missing for {} {:?}",
            dir.display(),
            input.display(),
            s
        );
        let want = clear_hashes(input, clear_media);
        let got = track_hashes(&dir, key, out_media).unwrap_or_else(|e| {
            panic!(
                "{}: decrypting {} failed: {e}",
                input.display(),
                dir.display()
            )
        });
        assert_hashes_eq(
            &got,
            &want,
            &format!("{} {}", input.display(), s.dir_name()),
        );
        checked += 1;
    }
    checked
}

/// Equal hash lists, with a short message (first difference) instead of a
/// dump of hundreds of hashes.
pub fn assert_hashes_eq(got: &[String], want: &[String], what: &str) {
    if got == want {
        return;
    }
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: hashes differ: got {} frames/packets, want {}; first difference at {:?}",
        got.len(),
        want.len(),
        first
    );
}

// ---------------------------------------------------------------------------
// Segment timing (ffprobe)

#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub first_is_sync: bool,
    pub samples: usize,
    /// Decode time of the first sample, seconds.
    pub start: f64,
    /// From the first sample's decode time to the end of the last sample, seconds.
    pub duration: f64,
}

/// Sample flags and timing of one media segment, read by ffprobe from
/// init.mp4 + that segment (no decryption needed for flags and timing).
///
/// ffmpeg 5.1 reports no duration (N/A) for the first packet of a fragment,
/// so the duration is measured from decode times: last dts − first dts + the
/// last sample's duration (or the one before it when that is missing too).
pub fn segment_info(track_dir: &Path, segment: &Path) -> SegmentInfo {
    let tmp = TempDir::new("seg");
    let f = tmp.join("one.mp4");
    let mut bytes = fs::read(track_dir.join("init.mp4")).expect("read init.mp4");
    bytes.extend(fs::read(segment).expect("read segment"));
    fs::write(&f, &bytes).expect("write");
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "0"])
        .args([
            "-show_entries",
            "packet=dts_time,duration_time,flags",
            "-of",
            "compact=p=0:nk=0",
        ])
        .arg(&f));
    assert_ok("ffprobe packets", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut info = SegmentInfo {
        first_is_sync: false,
        samples: 0,
        start: 0.0,
        duration: 0.0,
    };
    let (mut first_dts, mut last_dts, mut last_dur) = (None, None, None);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // "dts_time=4.010667|duration_time=N/A|flags=K_"
        let field = |k: &str| {
            line.split('|')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .unwrap_or("")
        };
        let dts = field("dts_time").parse::<f64>().ok();
        if info.samples == 0 {
            info.first_is_sync = field("flags").starts_with('K');
            first_dts = dts;
        }
        info.samples += 1;
        last_dts = dts.or(last_dts);
        last_dur = field("duration_time").parse::<f64>().ok().or(last_dur);
    }
    if let (Some(a), Some(b)) = (first_dts, last_dts) {
        info.start = a;
        info.duration = b - a + last_dur.unwrap_or(0.0);
    }
    info
}

/// Duration of stream `index` of a file as ffprobe reports it, seconds.
pub fn stream_duration(input: &Path, index: usize) -> f64 {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &index.to_string()])
        .args(["-show_entries", "stream=duration", "-of", "csv=p=0"])
        .arg(input));
    assert_ok("ffprobe duration", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe duration {text:?}"))
}

// ---------------------------------------------------------------------------
// Shaka Packager

/// Packages `input` with Shaka Packager into castguard's layout
/// (`<kind>_<track id>/init.mp4`, `<n>.m4s`), encrypted with `scheme`
/// ("cenc"/"cbcs") under (kid, key). Used to validate this harness on the
/// reference implementation's output.
pub fn shaka_package(input: &Path, out: &Path, scheme: &str, kid: &str, key: &str) {
    let mut cmd = Command::new(shaka());
    for s in streams(input) {
        let d = out.join(s.dir_name());
        cmd.arg(format!(
            "in={},stream={},init_segment={}/init.mp4,segment_template={}/$Number$.m4s",
            input.display(),
            s.index,
            d.display(),
            d.display()
        ));
    }
    cmd.args(["--enable_raw_key_encryption", "--keys"])
        .arg(format!("label=:key_id={kid}:key={key}"))
        .args(["--protection_scheme", scheme, "--clear_lead", "0"])
        .args(["--protection_systems", "CommonSystem,Widevine,PlayReady"])
        .args([
            "--segment_duration",
            "4",
            "--generate_static_live_mpd",
            "--mpd_output",
        ])
        .arg(out.join("manifest.mpd"));
    let o = run(&mut cmd);
    assert_ok("shaka packager (encrypt)", &o);
}

/// Decrypts one of our encrypted tracks with Shaka Packager
/// (`--enable_raw_key_decryption --keys label=:key_id=KID:key=KEY`) into a
/// clear MP4 at `dst`. Shaka reads one file, so init + segments are
/// concatenated first.
pub fn shaka_decrypt(track_dir: &Path, dst: &Path, kid: &str, key: &str) -> Result<(), String> {
    let cat = dst.with_extension("enc.mp4");
    concat_track(track_dir, &cat);
    let o = run(Command::new(shaka())
        .arg(format!(
            "in={},stream=0,output={}",
            cat.display(),
            dst.display()
        ))
        .args(["--enable_raw_key_decryption", "--keys"])
        .arg(format!("label=:key_id={kid}:key={key}")));
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "shaka packager (decrypt) {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

// ---------------------------------------------------------------------------
// PSSH via pywidevine

/// `(source, system, kid)` triples printed by tests/pssh_kids.py for a file.
pub fn pssh_kids(path: &Path) -> Vec<(String, String, String)> {
    let out = run(Command::new(python())
        .arg(repo_root().join("tests/pssh_kids.py"))
        .arg(path));
    assert_ok(&format!("pssh_kids.py {}", path.display()), &out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A static HTTP server on loopback, for ffmpeg's HLS demuxer.

/// Serves files under `root` on 127.0.0.1 (a free port) until dropped.
/// GET only, `Connection: close`, 404 for missing files, 403 for any path
/// that leaves `root`. Records every requested path.
pub struct HttpServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub requests: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

impl HttpServer {
    pub fn serve(root: &Path) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let root = root.to_path_buf();
        let (stop2, req2) = (stop.clone(), requests.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, req) = (root.clone(), req2.clone());
                std::thread::spawn(move || {
                    let _ = handle_http(conn, &root, &req);
                });
            }
        });
        HttpServer {
            port,
            stop,
            requests,
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake accept()
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn handle_http(conn: TcpStream, root: &Path, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_string());
    let rel = Path::new(path.trim_start_matches('/'));
    let inside = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let mut conn = conn;
    let (status, body) = if method != "GET" {
        ("405 Method Not Allowed", Vec::new())
    } else if !inside {
        ("403 Forbidden", Vec::new())
    } else {
        match File::open(root.join(rel)).and_then(|mut f| {
            let mut b = Vec::new();
            f.read_to_end(&mut b).map(|_| b)
        }) {
            Ok(b) => ("200 OK", b),
            Err(_) => ("404 Not Found", Vec::new()),
        }
    };
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(&body)?;
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Write);
    Ok(())
}

/// framemd5 hashes of what ffmpeg's HLS demuxer plays from `url`.
pub fn hls_hashes(url: &str, media: Media) -> Result<Vec<String>, String> {
    hls_hashes_with_headers(url, "", media)
}

/// [`hls_hashes`], sending `headers` (`Name: value\r\n` lines) with every
/// request, the key's included.
pub fn hls_hashes_with_headers(
    url: &str,
    headers: &str,
    media: Media,
) -> Result<Vec<String>, String> {
    let mut args: Vec<String> = ["-rw_timeout", "20000000"].map(String::from).to_vec();
    if !headers.is_empty() {
        args.extend(["-headers".to_owned(), headers.to_owned()]);
    }
    args.extend(["-i".to_owned(), url.to_owned()]);
    ffmpeg_hashes(&args, Stdio::null(), media)
}


/// The body of `GET url` (20 s, at most 64 MiB); panics unless it is a 200.
pub fn http_get(url: &str) -> Vec<u8> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(resp.status(), 200, "GET {url}");
    resp.body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("GET {url} body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framemd5_takes_sixth_column_not_last() {
        let text = "#format: frame checksums\n#stream#, dts, pts, duration, size, hash\n\
                    0,          0,          0,     1024,      283, 5e6f2a3e1d2c, S=1, 10, a\n\
                    0,       1024,       1024,     1024,      255, 0123abcd\n";
        assert_eq!(
            framemd5_hashes(text),
            vec!["5e6f2a3e1d2c".to_string(), "0123abcd".to_string()]
        );
    }
}
