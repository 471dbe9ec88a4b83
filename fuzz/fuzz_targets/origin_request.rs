//! The origin's request parsing: the path `/s/{locator}/{variant}/{path}`
//! (locator UUID, [`server::delivery::resolve::Variant::parse`],
//! [`media::origin::Resource::parse`]) and the `Range` header
//! ([`server::delivery::origin::byte_range`], RFC 9110 §14.1.2).
//!
//! Input: the first 8 bytes are the resource length (big-endian), the rest
//! is `locator/variant/path \n range-header`. Checks: a parsed path prints back to the same
//! path and parses to the same resource, so only canonical names are served
//! (no `..`, no leading zeros); a satisfiable range lies inside the resource
//! (`start <= end < len`) and its canonical form `bytes=start-end` resolves
//! to the same range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::origin::Resource;
use server::delivery::origin::byte_range;
use server::delivery::resolve::Variant;

fn path_of(r: &Resource) -> String {
    match r {
        Resource::Mpd => "manifest.mpd".into(),
        Resource::Master => "master.m3u8".into(),
        Resource::MediaPlaylist { track } => format!("{track}/playlist.m3u8"),
        Resource::IframePlaylist { track } => format!("{track}/iframes.m3u8"),
        Resource::Init { track } => format!("{track}/init.mp4"),
        Resource::PeriodInit { track, period } => format!("{track}/init-{period}.mp4"),
        Resource::Segment { track, number } => format!("{track}/{number}.m4s"),
        Resource::TextSegment { track, number } => format!("{track}/{number}.vtt"),
        Resource::Sidecar { track } => format!("{track}/subtitles.vtt"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<8>() else { return };
    let len = u64::from_be_bytes(*len);
    let text = String::from_utf8_lossy(rest);
    let (path, range) = text.split_once('\n').unwrap_or((&text, ""));

    let mut parts = path.splitn(3, '/');
    let (locator, variant, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let _ = uuid::Uuid::try_parse(locator);
    if let Some(v) = Variant::parse(variant) {
        assert_eq!(v.as_str(), variant);
    }
    if let Some(r) = Resource::parse(path) {
        let again = path_of(&r);
        assert_eq!(again, path, "a resource path that is not canonical was accepted");
        assert_eq!(Resource::parse(&again).as_ref(), Some(&r));
        assert!(!path.contains(".."));
    }

    // Also with a small length, where most ranges are unsatisfiable.
    for len in [len, len % 1024] {
        if let Ok(Some((start, end))) = byte_range(range, len) {
            assert!(start <= end && end < len, "range {start}-{end} outside 0..{len}");
            let canonical = format!("bytes={start}-{end}");
            assert_eq!(byte_range(&canonical, len).ok(), Some(Some((start, end))));
        }
    }
});
