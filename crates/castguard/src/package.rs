//! `castguard package`: argument handling, the output directory's life
//! cycle, the progress bar and the summary. The work is `media::package`.
//!
//! Output is written into a hidden staging directory beside the target and
//! renamed into place at the end, so a failure (bad input, full disk,
//! Ctrl-C) never leaves a half-written output directory that a CDN or a
//! later step could mistake for a finished one.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cenc::{ContentKey, KeyId, Scheme};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use media::title::Title;
use media::package::{CommonEncryption, LicenseUrls, PackageOptions, Protection};
use media::protect::DrmSystems;

use crate::Failure;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// Clear CMAF, no encryption.
    None,
    /// Common Encryption, AES-CTR (DASH; Widevine, PlayReady, Clear Key).
    Cenc,
    /// Common Encryption, AES-CBC 1:9 pattern (HLS FairPlay, DASH; all DRMs).
    Cbcs,
    /// HLS AES-128: whole segments in AES-128-CBC.
    #[value(name = "aes-128")]
    Aes128,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DrmArg {
    Widevine,
    Playready,
    Fairplay,
    Clearkey,
}

#[derive(Args)]
pub struct PackageArgs {
    /// Input MP4 / QuickTime files (progressive or fragmented; H.264/H.265
    /// video; AAC, AC-3, E-AC-3, Opus, FLAC audio). Several files make one
    /// title: every track of every file joins it (an ABR ladder of
    /// renditions, audio in its own file).
    #[arg(required = true, num_args = 1.., value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output directory (must not exist or be empty, unless --force).
    #[arg(long, short)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "cenc")]
    pub scheme: SchemeArg,
    /// Content key as KID:KEY (32 hex digits each; the KID may be a UUID),
    /// optionally for one track type (video=KID:KEY, audio=KID:KEY), or
    /// `auto` to generate one and print it.
    #[arg(long = "key", value_name = "[video=|audio=]KID:KEY|auto")]
    pub keys: Vec<String>,
    /// Derive the key from a PlayReady key seed (base64, at least 30 bytes)
    /// and the key id of --key-id (a new random one when absent).
    #[arg(long, value_name = "BASE64")]
    pub key_seed: Option<String>,
    /// Key id for --key-seed.
    #[arg(long, value_name = "KID")]
    pub key_id: Option<String>,
    /// DRM systems to signal (default: all that the scheme supports).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub drm: Vec<DrmArg>,
    /// License or key URL per system: widevine=URL, playready=URL,
    /// clearkey=URL, fairplay=skd://..., aes-128=URL; `{kid}` is replaced
    /// by the key id.
    #[arg(long = "la-url", value_name = "SYSTEM=URL")]
    pub la_urls: Vec<String>,
    /// A subtitle or caption file for the title, as LANG[:ROLE[:NAME]]=FILE:
    /// `en=subs_en.vtt`, `fr:forced=signs_fr.vtt`, `en:caption:English
    /// (SDH)=sdh.vtt`; LANG is a BCP 47 tag, ROLE one of subtitle
    /// (default), caption, forced, description; NAME what the player's
    /// menu shows (default: from language and role).
    /// WebVTT. Repeat for each language; never encrypted.
    #[arg(long = "text", value_name = "LANG[:ROLE[:NAME]]=FILE", value_parser = media::text::TextInput::parse)]
    pub texts: Vec<media::text::TextInput>,
    /// Write a DASH MPD (default: both DASH and HLS).
    #[arg(long)]
    pub dash: bool,
    /// Write HLS playlists (default: both DASH and HLS).
    #[arg(long)]
    pub hls: bool,
    /// Target segment duration in seconds; segments start at sync samples.
    #[arg(long, default_value_t = 4.0, value_parser = parse_duration)]
    pub segment_duration: f64,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a duration between 0.1 and 3600 seconds")),
    }
}

/// Keys as given on the command line.
struct Keys {
    video: ContentKey,
    audio: Option<ContentKey>,
    generated: bool,
}

fn parse_keys(args: &PackageArgs) -> Result<Option<Keys>, Failure> {
    if args.scheme == SchemeArg::None {
        if !args.keys.is_empty() || args.key_seed.is_some() {
            return Err(Failure::usage("--key and --key-seed need an encrypting --scheme (cenc, cbcs or aes-128)"));
        }
        return Ok(None);
    }
    if let Some(seed) = &args.key_seed {
        if !args.keys.is_empty() {
            return Err(Failure::usage("give either --key or --key-seed, not both"));
        }
        use base64::Engine;
        let seed = base64::engine::general_purpose::STANDARD
            .decode(seed.trim())
            .map_err(|_| Failure::usage("--key-seed is not valid base64"))?;
        let kid = match &args.key_id {
            Some(k) => k.parse::<KeyId>().map_err(|e| Failure::usage(format!("--key-id: {e}")))?,
            None => ContentKey::generate().map_err(Failure::input)?.kid,
        };
        let key = ContentKey::from_key_seed(&seed, kid).map_err(|e| Failure::usage(format!("--key-seed: {e}")))?;
        return Ok(Some(Keys { video: key, audio: None, generated: args.key_id.is_none() }));
    }
    let mut all = None;
    let mut video = None;
    let mut audio = None;
    let mut generated = false;
    for spec in &args.keys {
        let (slot, value) = match spec.split_once('=') {
            Some(("video", v)) => (&mut video, v),
            Some(("audio", v)) => (&mut audio, v),
            Some((label, _)) => return Err(Failure::usage(format!("--key: unknown track type '{label}' (video or audio)"))),
            None => (&mut all, spec.as_str()),
        };
        if slot.is_some() {
            return Err(Failure::usage("--key given twice for the same tracks"));
        }
        let key = if value == "auto" {
            generated = true;
            ContentKey::generate().map_err(Failure::input)?
        } else {
            ContentKey::parse(value).map_err(|e| Failure::usage(format!("--key: {e}")))?
        };
        *slot = Some(key);
    }
    let video = match (video, &all) {
        (Some(v), None) => v,
        (None, Some(a)) => a.clone(),
        (Some(_), Some(_)) => return Err(Failure::usage("--key: give one key for all tracks or per track type, not both")),
        (None, None) => match audio.take() {
            Some(a) => return Err(Failure::usage(format!("--key: audio key {} given but no key for video", a.kid))),
            None => return Err(Failure::usage("an encrypting --scheme needs --key KID:KEY, --key auto or --key-seed")),
        },
    };
    let audio = audio.or(all);
    Ok(Some(Keys { video, audio, generated }))
}

fn parse_urls(args: &PackageArgs, kid: Option<KeyId>) -> Result<(LicenseUrls, Option<String>), Failure> {
    let mut urls = LicenseUrls::default();
    let mut aes = None;
    for spec in &args.la_urls {
        let Some((system, url)) = spec.split_once('=') else {
            return Err(Failure::usage(format!("--la-url '{spec}': expected SYSTEM=URL")));
        };
        if url.is_empty() || url.chars().any(char::is_control) {
            return Err(Failure::usage(format!("--la-url {system}: empty or invalid URL")));
        }
        let url = match kid {
            Some(k) => url.replace("{kid}", &k.to_string()),
            None => url.to_owned(),
        };
        let slot = match system {
            "widevine" => &mut urls.widevine,
            "playready" => &mut urls.playready,
            "clearkey" => &mut urls.clearkey,
            "fairplay" => &mut urls.fairplay,
            "aes-128" | "aes128" => &mut aes,
            other => {
                return Err(Failure::usage(format!(
                    "--la-url: unknown system '{other}' (widevine, playready, clearkey, fairplay, aes-128)"
                )));
            }
        };
        *slot = Some(url);
    }
    Ok((urls, aes))
}

fn drm_systems(args: &PackageArgs, urls: &LicenseUrls) -> DrmSystems {
    let all = args.drm.is_empty();
    let has = |d: DrmArg| all || args.drm.contains(&d);
    DrmSystems {
        widevine: has(DrmArg::Widevine),
        playready: has(DrmArg::Playready),
        clearkey: has(DrmArg::Clearkey),
        fairplay: has(DrmArg::Fairplay),
        playready_la_url: urls.playready.clone(),
        widevine_provider: None,
    }
}

pub fn run(args: PackageArgs) -> Result<(), Failure> {
    let keys = parse_keys(&args)?;
    let (urls, aes_uri) = parse_urls(&args, keys.as_ref().map(|k| k.video.kid))?;
    if args.scheme == SchemeArg::Cenc && args.drm.contains(&DrmArg::Fairplay) {
        return Err(Failure::usage("FairPlay needs --scheme cbcs"));
    }
    let (dash, hls) = if !args.dash && !args.hls { (true, true) } else { (args.dash, args.hls) };
    if args.scheme == SchemeArg::Aes128 && dash {
        if args.dash {
            return Err(Failure::usage("--scheme aes-128 is HLS only; use --hls"));
        }
    }
    let dash = dash && args.scheme != SchemeArg::Aes128;

    let mut title = Title::open(&args.inputs).map_err(Failure::input)?;
    title.add_texts(&args.texts).map_err(Failure::input)?;
    // Tracks left out are said even with --quiet: nothing vanishes silently.
    for note in &title.notes {
        eprintln!("castguard package: {note}");
    }

    let mut key_file = None;
    let protection = match (&args.scheme, keys.as_ref()) {
        (SchemeArg::None, _) | (_, None) => Protection::Clear,
        (SchemeArg::Aes128, Some(k)) => {
            let key_uri = match aes_uri {
                Some(u) => u,
                None => {
                    let name = hex(&k.video.kid.0);
                    key_file = Some((format!("keys/{name}.key"), k.video.key.as_bytes().to_vec()));
                    format!("../keys/{name}.key")
                }
            };
            Protection::aes128(k.video.clone(), key_uri)
        }
        (scheme, Some(k)) => Protection::Common(CommonEncryption::new(
            if *scheme == SchemeArg::Cbcs { Scheme::Cbcs } else { Scheme::Cenc },
            k.video.clone(),
            k.audio.clone(),
            drm_systems(&args, &urls),
            urls,
        )),
    };
    let opts = PackageOptions { segment_duration: args.segment_duration, protection, dash, hls };

    let staging = Staging::create(&args.out, args.force).map_err(Failure::input)?;
    let bar = progress_bar(&args, title.total_sample_bytes());
    let result = media::package::package(&title, &opts, staging.path(), &|n| bar.inc(n));
    bar.finish_and_clear();
    let summary = result.map_err(Failure::input)?;
    for w in &summary.warnings {
        eprintln!("castguard package: warning: {w}");
    }
    if let Some((name, bytes)) = &key_file {
        let path = staging.path().join(name);
        write_secret(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    staging.commit().map_err(Failure::input)?;

    if let Some(k) = &keys {
        if k.generated {
            println!("generated key: {}:{}", k.video.kid, hex(k.video.key.as_bytes()));
        }
    }
    if !args.quiet {
        println!(
            "packaged {} ({:.1} s) into {}: {} files, {:.1} MB",
            args.inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "),
            summary.duration_secs,
            args.out.display(),
            summary.tracks.iter().map(|t| t.segments + 1).sum::<usize>() + summary.manifests.len() + usize::from(key_file.is_some()),
            summary.bytes_written as f64 / 1e6,
        );
        for t in &summary.tracks {
            println!("  {:<10} {:<20} {:>5} segments {:>10.1} MB", t.name, t.codecs, t.segments, t.bytes as f64 / 1e6);
        }
        for m in &summary.manifests {
            println!("  {m}");
        }
        if let Some((name, _)) = &key_file {
            println!("  {name} (the AES-128 key: serve it only to entitled clients)");
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)
}

fn progress_bar(args: &PackageArgs, total: u64) -> ProgressBar {
    if args.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})") {
        bar.set_style(style);
    }
    bar
}

/// The output directory while it is being written: a hidden sibling that is
/// renamed into place by `commit`, and removed if dropped before that.
struct Staging {
    dir: PathBuf,
    target: PathBuf,
    force: bool,
    created_parent: Option<PathBuf>,
    committed: bool,
}

impl Staging {
    fn create(target: &Path, force: bool) -> anyhow::Result<Staging> {
        if target.exists() {
            let empty = std::fs::read_dir(target).map(|mut d| d.next().is_none()).unwrap_or(false);
            if !target.is_dir() {
                anyhow::bail!("{} exists and is not a directory", target.display());
            }
            if !empty && !force {
                anyhow::bail!("{} exists and is not empty (use --force to replace it)", target.display());
            }
        }
        let name = target.file_name().context("the output directory needs a name")?.to_string_lossy().into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        // The topmost missing ancestor, to remove again on failure.
        let mut created_parent = None;
        let mut p = parent.as_path();
        while !p.exists() {
            created_parent = Some(p.to_owned());
            match p.parent() {
                Some(up) if !up.as_os_str().is_empty() => p = up,
                _ => break,
            }
        }
        std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        let dir = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let staging = Staging { dir, target: target.to_owned(), force, created_parent, committed: false };
        std::fs::create_dir(&staging.dir).with_context(|| format!("creating {}", staging.dir.display()))?;
        Ok(staging)
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    fn commit(mut self) -> anyhow::Result<()> {
        if self.target.exists() {
            if self.force {
                std::fs::remove_dir_all(&self.target).with_context(|| format!("removing {}", self.target.display()))?;
            } else {
                // Empty, checked at start.
                std::fs::remove_dir(&self.target).with_context(|| format!("replacing {}", self.target.display()))?;
            }
        }
        std::fs::rename(&self.dir, &self.target).with_context(|| format!("moving output into {}", self.target.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
            if let Some(p) = &self.created_parent {
                let _ = std::fs::remove_dir_all(p);
            }
        }
    }
}
