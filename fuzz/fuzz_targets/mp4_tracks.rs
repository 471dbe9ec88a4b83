//! Parses arbitrary bytes as a whole MP4, the way castguard reads one:
//!
//! - progressive: the `moov`'s sample tables (`stbl`: stts, ctts, stss,
//!   stsc, stsz, stco/co64) expanded into samples with
//!   [`bmff::sample_table::samples`];
//! - fragmented: each `moof` decoded with the per-sample IV size of the
//!   `tenc` of the `moov` before it (ISO/IEC 23001-7 §8.2: `senc` cannot be
//!   parsed without it), then every `traf`/`trun`/`senc` re-encoded and
//!   decoded again, which must give the same value and bytes;
//! - the origin's protection of a clear fragment: the first sample entry
//!   gets a `cenc` and a `cbcs` [`media::package::TrackSetup`] (fixed key),
//!   which protects the `moov` as an init segment and each `moof`+`mdat`
//!   pair in place.
//!
//! Any panic, overflow or huge allocation is a bug; errors are fine.
#![no_main]

use bmff::{Atom, FourCC, Moof, Moov, SampleEntry, iter_boxes, sample_table};
use libfuzzer_sys::fuzz_target;
use media::movie::TrackKind;
use media::package::{CommonEncryption, LicenseUrls, Protection, TrackSetup};
use media::protect::DrmSystems;

fn per_sample_iv_size(moov: &Moov) -> Option<u8> {
    moov.traks.iter().find_map(|t| {
        t.mdia.minf.stbl.stsd.entries.iter().find_map(|e| {
            let sinf = match e {
                SampleEntry::Visual(v) => &v.sinf,
                SampleEntry::Audio(a) => &a.sinf,
                SampleEntry::Other(_) => return None,
            };
            sinf.iter()
                .find_map(|s| s.schi.as_ref()?.tenc.as_ref())
                .map(|t| t.default_per_sample_iv_size)
        })
    })
}

fn setups(moov: &Moov) -> Vec<TrackSetup> {
    let Some(trak) = moov.traks.first() else {
        return Vec::new();
    };
    let Some(entry) = trak.mdia.minf.stbl.stsd.entries.first() else {
        return Vec::new();
    };
    let kind = match entry {
        SampleEntry::Audio(_) => TrackKind::Audio,
        _ => TrackKind::Video,
    };
    let key = cenc::ContentKey {
        kid: cenc::KeyId([0x11; 16]),
        key: cenc::Key::new([0x22; 16]),
    };
    [cenc::Scheme::Cenc, cenc::Scheme::Cbcs]
        .into_iter()
        .filter_map(|scheme| {
            let p = Protection::Common(CommonEncryption::new(
                scheme,
                key.clone(),
                None,
                DrmSystems { widevine: true, playready: true, clearkey: true, ..Default::default() },
                LicenseUrls::default(),
            ));
            let class = media::track_class::TrackClass::of_entry(kind, entry);
            TrackSetup::new(&p, trak.tkhd.track_id, class, entry).ok()
        })
        .collect()
}

fn round_trip_moof(moof: &Moof, iv: Option<u8>) {
    let bytes = moof.to_bytes().expect("encoding a decoded moof");
    let back = match iv {
        Some(iv) => Moof::decode_with_iv_size(&bytes, iv),
        None => Moof::decode(&bytes),
    }
    .expect("re-decoding our own moof");
    assert_eq!(&back, moof, "decode(encode(moof)) != moof");
    assert_eq!(back.to_bytes().expect("re-encoding moof"), bytes);
}

// As in production (castguard's panic hook reports and does not abort), a
// panic that the code under test catches on purpose is an error, not a
// crash: the `cenc` crate guards the third-party cros-codecs parsers with
// `catch_unwind`. libfuzzer-sys's hook would abort before that guard runs;
// the default hook does not, and a panic that escapes the target still
// aborts in libfuzzer-sys's own `catch_unwind` around it.
fuzz_target!(init: { let _ = std::panic::take_hook(); }, |data: &[u8]| {
    let mut moov: Option<Moov> = None;
    let mut setups_ = Vec::new();
    let mut pending_moof: Option<&[u8]> = None;
    let mut off = 0usize;
    for item in iter_boxes(data) {
        let Ok((h, _)) = item else { return };
        let Some(whole) = data.get(off..off.saturating_add(h.size as usize)) else {
            return;
        };
        off += whole.len();
        match h.kind {
            FourCC::MOOV => {
                let Ok(m) = Moov::decode(whole) else { continue };
                for t in &m.traks {
                    if let Ok(samples) = sample_table::samples(&t.mdia.minf.stbl) {
                        // Decode times never go backwards.
                        assert!(samples.windows(2).all(|w| w[0].dts <= w[1].dts), "dts not monotonic");
                    }
                }
                setups_ = setups(&m);
                for s in &setups_ {
                    let _ = s.init(whole);
                }
                moov = Some(m);
            }
            FourCC::MOOF => {
                let iv = moov.as_ref().and_then(per_sample_iv_size);
                let decoded = match iv {
                    Some(iv) => Moof::decode_with_iv_size(whole, iv),
                    None => Moof::decode(whole),
                };
                if let Ok(m) = decoded {
                    round_trip_moof(&m, iv);
                }
                pending_moof = Some(whole);
            }
            FourCC::MDAT => {
                if let Some(moof) = pending_moof.take() {
                    for (i, s) in setups_.iter().enumerate() {
                        let mut buf = Vec::with_capacity(moof.len() + whole.len() + 4096);
                        buf.extend_from_slice(moof);
                        buf.extend_from_slice(whole);
                        let _ = s.segment_in_place(i as u32 + 1, &mut buf);
                    }
                }
            }
            _ => {}
        }
    }
});
