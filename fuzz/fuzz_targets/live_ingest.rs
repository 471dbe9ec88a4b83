//! Pushes arbitrary bytes as a live ingest stream (`media::live`, what
//! `POST /ingest/{event}/{token}/{stream}` runs): cut into units by
//! `StreamParser` in two uneven chunks, each header and fragment given to a
//! `LiveAsset` recording, then the recording served the way the origin
//! does, live and once finished. Refusals are errors, never panics, and a
//! refused unit leaves the recording's index as it was. Inputs are bounded
//! to 64 KiB (the seeds are tiny ffmpeg CMAF streams).
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::live::{StreamParser, Unit};

#[path = "common/recording.rs"]
mod recording;

const MAX_INPUT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let (_tmp, dir, mut rec) = recording::fresh("castguard-fuzz-live");
    let mut parser = StreamParser::new(1 << 20, false);
    let split = data.first().map_or(0, |b| usize::from(*b) * data.len() / 256);
    let mut now = 1_800_000_000_000i64;
    'push: for chunk in [&data[..split], &data[split..]] {
        let Ok(units) = parser.push(chunk) else { break };
        for unit in units {
            let before = rec.index().clone();
            let r = match &unit {
                Unit::Header(h) => rec.header("s", h),
                Unit::Fragment { bytes, moof_len } => {
                    now += 2000;
                    rec.fragment("s", bytes, *moof_len, now).map(|_| ())
                }
            };
            if r.is_err() {
                assert_eq!(rec.index(), &before, "a refused unit changed the recording");
                break 'push;
            }
        }
    }
    recording::serve(&dir);
    rec.finish().expect("finish");
    recording::serve(&dir);
});
