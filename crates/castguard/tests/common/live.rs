//! Shared pieces of the live end-to-end tests (live_e2e, the RTMP and
//! fault tests): plain HTTP calls that return the status instead of
//! failing on it (ingest answers are what these tests check), tokens from
//! pyjwt, the MPD/playlist facts they read, the event set-up made with the
//! management CLI, ffmpeg's synthetic push, and the archive comparison
//! (ffmpeg decrypting what the `cenc` locator serves against the copy the
//! pushing ffmpeg's `tee` muxer kept).

use super::{Media, assert_hashes_eq, file_hashes, track_hashes};
use base64::Engine as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// HMAC key of the viewers' token policy the live tests set up.
pub const HMAC_KEY: &[u8] = b"live-e2e-hmac-key-0123456789abcdef";
pub const ISSUER: &str = "https://sts.live-e2e.example";
pub const AUDIENCE: &str = "castguard-live";

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// Status and body of a GET.
pub fn get(url: &str) -> (u16, Vec<u8>) {
    let mut r = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap_or_default();
    (r.status().as_u16(), body)
}

/// The body of a GET that must answer 200, as text.
pub fn get_text(url: &str) -> String {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
    String::from_utf8(body).expect("text")
}

/// Status and body of a POST of `body`.
pub fn post(url: &str, body: &[u8]) -> (u16, String) {
    let mut r = agent()
        .post(url)
        .send(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// A JWT from pyjwt (a library we did not write) for a user in `group`,
/// for the policy [`setup_event`] makes.
pub fn token(group: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let out = Command::new(super::python())
        .args([
            "-c",
            "import jwt,sys; print(jwt.encode({'iss': sys.argv[1], 'aud': sys.argv[2], 'exp': int(sys.argv[3]), \
             'groups': [sys.argv[5]]}, sys.argv[4].encode(), algorithm='HS256'))",
            ISSUER,
            AUDIENCE,
            &exp.to_string(),
            std::str::from_utf8(HMAC_KEY).unwrap(),
            group,
        ])
        .output()
        .expect("run python");
    super::assert_ok("pyjwt", &out);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An ISO 8601 UTC time as the MPD writes it (`2026-12-05T10:00:00.123Z`),
/// in Unix milliseconds.
pub fn unix_ms(iso: &str) -> i64 {
    let t = time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{iso}: {e}"));
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

pub fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The value of `name="..."` in `xml`.
pub fn attr<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let at = xml.find(&format!(" {name}=\""))? + name.len() + 3;
    xml[at..].split('"').next()
}

/// Segment count of an HLS media playlist.
pub fn extinf(playlist: &str) -> usize {
    playlist.matches("#EXTINF:").count()
}

/// A box of `kind` around `body`.
pub fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = u32::try_from(body.len() + 8)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// What [`setup_event`] made.
pub struct LiveSetup {
    /// The event's first ingest endpoint, as `live get` shows it.
    pub ingest: String,
    /// `streamingLocatorId` of the `cenc` locator (key [`super::KID1`],
    /// policy: token with `groups=EntitledUsers`).
    pub live_id: String,
    /// `streamingLocatorId` of a clear locator of the same asset.
    pub preview_id: String,
}

/// With the management CLI (`run` calls it and returns its stdout): asset
/// `asset`, live event `event` (access token `access_token`, created
/// stopped) with output `rec` recording into the asset (archive window one
/// hour), the viewers' HS256 policy, key [`super::KID1`] under it, and the
/// locators `live` (Predefined_MultiDrmCencStreaming) and `preview` (clear).
pub fn setup_event(
    run: &dyn Fn(&[&str]) -> String,
    event: &str,
    asset: &str,
    access_token: &str,
    extra_event_args: &[&str],
) -> LiveSetup {
    run(&["asset", "create", asset]);
    let mut create = vec!["live", "create", event, "--access-token", access_token];
    create.extend_from_slice(extra_event_args);
    run(&create);
    run(&[
        "live",
        "output",
        "create",
        event,
        "rec",
        "--asset",
        asset,
        "--archive-window",
        "PT1H",
    ]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(HMAC_KEY);
    run(&[
        "policy",
        "create",
        "viewers",
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--symmetric-key",
        &b64,
        "--required-claim",
        "groups=EntitledUsers",
    ]);
    run(&[
        "key",
        "create",
        "ck",
        "--type",
        "common",
        "--kid",
        super::KID1,
        "--value",
        super::KEY1,
        "--policy",
        "viewers",
    ]);
    for (name, policy) in [
        ("live", "Predefined_MultiDrmCencStreaming"),
        ("preview", "Predefined_ClearStreamingOnly"),
    ] {
        let mut args = vec![
            "locator",
            "create",
            name,
            "--asset",
            asset,
            "--streaming-policy",
            policy,
        ];
        if name == "live" {
            args.extend_from_slice(&["--key", "ck"]);
        }
        run(&args);
    }
    let event_json: serde_json::Value =
        serde_json::from_str(&run(&["live", "get", event, "--json"])).unwrap();
    let ingest = event_json["input"]["endpoints"][0]["url"]
        .as_str()
        .expect("an ingest endpoint")
        .to_owned();
    LiveSetup {
        ingest,
        live_id: locator_id(run, "live"),
        preview_id: locator_id(run, "preview"),
    }
}

/// The `streamingLocatorId` of locator `name`.
pub fn locator_id(run: &dyn Fn(&[&str]) -> String, name: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&run(&["locator", "get", name, "--json"])).unwrap();
    v["streamingLocatorId"].as_str().unwrap().to_string()
}

/// ffmpeg reading `secs` seconds of a synthetic source at real time
/// (`-re`: testsrc2 640x360 at 25 fps and a 440 Hz sine at 48 kHz) and
/// encoding it as a live encoder would: libx264 with 2 s GOPs (so 2 s
/// segments) and AAC, `+global_header` so the codec configuration is in the
/// header. The caller adds the output (`-f ...` and where).
pub fn ffmpeg_synthetic(secs: u32) -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-loglevel", "warning", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &secs.to_string(), "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "50",
            "-keyint_min",
            "50",
            "-sc_threshold",
            "0",
        ])
        .args(["-c:a", "aac", "-b:a", "96k", "-flags", "+global_header"]);
    c
}

/// The muxer options ffmpeg needs to push CMAF.
pub const CMAF_MOVFLAGS: &str = "movflags=empty_moov+separate_moof+default_base_moof+cmaf";

/// Starts shaka-player (tests/browser/live.mjs) in headless Chromium on
/// `url` (an MPD or an HLS master playlist), with `token` on license and
/// key requests and, for DASH, Clear Key licenses from `license`, watching
/// for `watch` seconds (and with `switch`, then switching renditions), on
/// a thread. Gives node's output and the JSON lines it printed.
pub fn play(
    chromium: &str,
    url: &str,
    license: Option<&str>,
    token: String,
    watch: &str,
    switch: bool,
) -> std::thread::JoinHandle<(std::process::Output, Vec<serde_json::Value>)> {
    let mut args: Vec<std::ffi::OsString> = [
        "--url",
        url,
        "--token",
        &token,
        "--watch",
        watch,
        "--chromium",
        chromium,
    ]
    .iter()
    .map(|s| s.into())
    .collect();
    if let Some(license) = license {
        args.extend(["--clearkey-license".into(), license.into()]);
    }
    if switch {
        args.push("--switch".into());
    }
    std::thread::spawn(move || super::node_script("live.mjs", &args))
}

/// Waits up to 15 s after `pushed_at` for the live MPD at `url` to list two
/// segments, and gives it (fails the test when it does not come).
pub fn wait_for_live_mpd(url: &str, pushed_at: std::time::Instant) -> String {
    while pushed_at.elapsed() < Duration::from_secs(15) {
        let (status, body) = get(url);
        if status == 200 && String::from_utf8_lossy(&body).matches("<S ").count() >= 2 {
            let mpd = String::from_utf8(body).expect("MPD in UTF-8");
            eprintln!("live MPD after {:?}:\n{mpd}", pushed_at.elapsed());
            return mpd;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no live MPD with two segments 15 s into the push: {url}");
}

/// The entitled viewer's verdict from [`play`]: it played live at wall-clock
/// speed (0.85–1.15x) and the newest media it fetched was never more than
/// three segments of 2 s behind the encoder's clock. Gives live.mjs's last
/// line for the test's own checks.
pub fn assert_played_live(
    player: std::thread::JoinHandle<(std::process::Output, Vec<serde_json::Value>)>,
    what: &str,
) -> serde_json::Value {
    let (out, mut results) = player.join().unwrap();
    let r = results
        .pop()
        .unwrap_or_else(|| panic!("live.mjs printed nothing: {out:?}"));
    eprintln!(
        "{what}: rate {} latency {} s (shaka {}) over {} s; newest fetched media behind the wall clock {} \
         (at most {} s once settled); at load {}, start-up {} s, latency at start {} s, renditions {}, switches {}",
        r["rate"],
        r["latency"],
        r["shakaLatency"],
        r["watched"],
        r["edgeLags"],
        r["edgeLagMax"],
        r["edgeAtLoad"],
        r["startupSecs"],
        r["latencyAtStart"],
        r["heights"],
        r["switches"]
    );
    assert!(
        out.status.success() && r["played"] == true && r["isLive"] == true,
        "{what}, entitled: {r}"
    );
    let rate = r["rate"].as_f64().unwrap();
    assert!(
        (0.85..=1.15).contains(&rate),
        "{what}: playhead at {rate}x wall clock: {r}"
    );
    let edge = r["edgeLagMax"].as_f64().expect("edge lag measured");
    assert!(
        edge <= 6.0,
        "{what}: the newest media the player had was {edge} s behind: over 3 segments: {r}"
    );
    r
}

/// The outsider's verdict from [`play`]: refused, nothing played.
pub fn assert_refused(
    player: std::thread::JoinHandle<(std::process::Output, Vec<serde_json::Value>)>,
) {
    let (out, results) = player.join().unwrap();
    let r = results
        .last()
        .unwrap_or_else(|| panic!("live.mjs printed nothing: {out:?}"));
    assert!(
        !out.status.success() && r["played"] == false,
        "outsider played: {r}"
    );
}

/// Downloads the init segment and every segment the playlist lists of one
/// track into `dir` as `init.mp4`, `1.m4s`, ...
pub fn download_track(playlist_url: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let playlist = get_text(playlist_url);
    let folder = playlist_url.rsplit_once('/').unwrap().0;
    std::fs::write(
        dir.join("init.mp4"),
        super::http_get(&format!("{folder}/init.mp4")),
    )
    .unwrap();
    let names: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".m4s")).collect();
    assert!(
        !names.is_empty(),
        "{playlist_url}: no segments in {playlist}"
    );
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            *name,
            format!("{}.m4s", i + 1),
            "the archive numbers segments from 1 without gaps"
        );
        std::fs::write(dir.join(name), super::http_get(&format!("{folder}/{name}"))).unwrap();
    }
}

/// The archive of the `cenc` locator `live_id`, downloaded into `work` and
/// decrypted by ffmpeg with [`super::KEY1`], is exactly the video frames
/// and audio packets of `pushed` (the tee copy); a wrong key does not give
/// them. Returns (video frames, audio packets).
pub fn assert_archive_is(base: &str, live_id: &str, work: &Path, pushed: &Path) -> (usize, usize) {
    for track in ["video_1", "audio_2"] {
        download_track(
            &format!("{base}/s/{live_id}/cenc/{track}/playlist.m3u8"),
            &work.join(track),
        );
    }
    let want_video = file_hashes(pushed, Media::Video).unwrap();
    let want_audio = file_hashes(pushed, Media::Audio(0)).unwrap();
    let video = track_hashes(&work.join("video_1"), Some(super::KEY1), Media::Video).unwrap();
    assert_hashes_eq(&video, &want_video, "live video, decrypted");
    let audio = track_hashes(&work.join("audio_2"), Some(super::KEY1), Media::Audio(0)).unwrap();
    assert_hashes_eq(&audio, &want_audio, "live audio, decrypted");
    assert_ne!(
        track_hashes(&work.join("video_1"), Some(super::KEY2), Media::Video).ok(),
        Some(want_video),
        "a wrong key decrypts"
    );
    (video.len(), audio.len())
}

/// ffmpeg pushing the CMAF file `source` at real time to `url` (`-c copy`:
/// the frames pushed are the file's, so the archive can be compared with
/// it), one chunked POST; `output_args` go before the URL (e.g.
/// `-auth_type basic`). Every push starts its timestamps at 0 again, as a
/// restarted encoder does.
pub fn push_file(source: &Path, url: &str, output_args: &[&str]) -> std::process::Child {
    Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-i",
        ])
        .arg(source)
        .args(["-map", "0", "-c", "copy"])
        .args(output_args)
        .args(["-f", "mp4", "-movflags"])
        .arg(CMAF_MOVFLAGS.trim_start_matches("movflags="))
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ffmpeg")
}

/// Waits for a pushing ffmpeg (started with piped stderr) to end; it must
/// have succeeded (every fragment acknowledged).
pub fn wait_pushed(ffmpeg: std::process::Child, what: &str) {
    let pushed = ffmpeg.wait_with_output().unwrap();
    assert!(
        pushed.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
}

/// A CMAF file of `secs` seconds of the synthetic source
/// ([`ffmpeg_synthetic`], so made at real time) to push with [`push_file`].
pub fn make_source(path: &Path, secs: u32) {
    let made = ffmpeg_synthetic(secs)
        .args([
            "-f",
            "mp4",
            "-movflags",
            CMAF_MOVFLAGS.trim_start_matches("movflags="),
        ])
        .arg(path)
        .output()
        .unwrap();
    super::assert_ok("ffmpeg source", &made);
}
