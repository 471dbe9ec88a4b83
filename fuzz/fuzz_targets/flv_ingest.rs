//! Pushes arbitrary bytes as an RTMP publish's audio and video messages
//! (`media::flv`, what `server::live_rtmp` runs on each message): the input
//! is read as an FLV file (each tag one RTMP message), its tags remuxed
//! into CMAF units by `FlvRemuxer` with a small fragment limit, and each
//! unit given to a `LiveAsset` recording as the RTMP listener does, then the
//! recording served the way the origin does. Refusals are errors, never
//! panics; a header or fragment the remuxer writes must be taken by the
//! recording unless the recording refuses it for its timeline (decode
//! times that go back), never as media it cannot read. Inputs are bounded
//! to 64 KiB (the seeds are tiny ffmpeg FLV pushes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::flv::{FlvRemuxer, TagKind, flv_tags};
use media::live::Unit;

#[path = "common/recording.rs"]
mod recording;

const MAX_INPUT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    // The tags up to the first that does not fit.
    let tags = match flv_tags(data) {
        Ok(t) => t,
        Err(_) => return,
    };
    let (_tmp, dir, mut rec) = recording::fresh("castguard-fuzz-flv");
    let mut remuxer = FlvRemuxer::new(1 << 20);
    let mut now = 1_800_000_000_000i64;
    let mut store = |units: Vec<Unit>| -> bool {
        for unit in units {
            let r = match &unit {
                Unit::Header(h) => rec.header("rtmp", h),
                Unit::Fragment { bytes, moof_len } => {
                    now += 2000;
                    rec.fragment("rtmp", bytes, *moof_len, now).map(|_| ())
                }
            };
            if r.is_err() {
                return false;
            }
        }
        true
    };
    let mut going = true;
    for tag in tags {
        let units = match tag.kind {
            TagKind::Video => remuxer.video(tag.timestamp_ms, tag.body),
            TagKind::Audio => remuxer.audio(tag.timestamp_ms, tag.body),
            TagKind::Script => continue,
        };
        let stored = match units {
            Ok(u) => store(u),
            Err(_) => false,
        };
        if !stored {
            going = false;
            break;
        }
    }
    if going && let Ok(u) = remuxer.finish() {
        store(u);
    }
    drop(store);
    recording::serve(&dir);
    rec.finish().expect("finish");
    recording::serve(&dir);
});
