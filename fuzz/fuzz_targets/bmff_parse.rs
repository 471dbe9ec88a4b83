//! Parses arbitrary bytes as an MP4: walks every box with `iter_boxes`
//! (recursing into bodies, bounded depth), decodes the boxes `bmff` knows,
//! and for each one that decodes, writes it back and decodes that again: the
//! two values must be equal and the second write must give the same bytes.
//! Any panic, overflow or huge allocation is a bug.
#![no_main]

use bmff::{Atom, FourCC, Moof, Moov, Senc, Traf, iter_boxes, sample_table};
use libfuzzer_sys::fuzz_target;

fn check<T: Atom + PartialEq + std::fmt::Debug>(whole: &[u8]) {
    if let Ok(v) = T::decode(whole) {
        // A value we decoded must always be writable.
        let bytes = v.to_bytes().expect("encoding a decoded value");
        let back = T::decode(&bytes).expect("re-decoding our own output");
        assert_eq!(back, v, "decode(encode(x)) != x for {}", T::KIND);
        assert_eq!(back.to_bytes().expect("re-encoding"), bytes);
    }
}

fn walk(buf: &[u8], depth: u32) {
    if depth > 8 {
        return;
    }
    let mut off = 0usize;
    for item in iter_boxes(buf) {
        let Ok((h, body)) = item else { return };
        let Some(whole) = buf.get(off..off + h.size as usize) else {
            return;
        };
        off += h.size as usize;
        match h.kind {
            FourCC::MOOV => {
                check::<Moov>(whole);
                if let Ok(m) = Moov::decode(whole) {
                    for t in &m.traks {
                        let _ = sample_table::samples(&t.mdia.minf.stbl);
                    }
                }
            }
            FourCC::MOOF => check::<Moof>(whole),
            FourCC::TRAF => check::<Traf>(whole),
            FourCC::SENC => {
                check::<Senc>(whole);
                for iv in [0, 8, 16] {
                    if let Ok(s) = Senc::decode_with_iv_size(whole, iv) {
                        let bytes = s.to_bytes().expect("re-encoding senc");
                        assert_eq!(
                            Senc::decode_with_iv_size(&bytes, iv).expect("re-decoding senc"),
                            s
                        );
                    }
                }
            }
            FourCC::FTYP => check::<bmff::Ftyp>(whole),
            FourCC::STYP => check::<bmff::Styp>(whole),
            FourCC::SIDX => check::<bmff::Sidx>(whole),
            FourCC::PSSH => check::<bmff::Pssh>(whole),
            FourCC::STBL => check::<bmff::Stbl>(whole),
            FourCC::STSD => check::<bmff::Stsd>(whole),
            FourCC::SINF => check::<bmff::Sinf>(whole),
            FourCC::TENC => check::<bmff::Tenc>(whole),
            FourCC::AVCC => check::<bmff::AvcC>(whole),
            FourCC::HVCC => check::<bmff::HvcC>(whole),
            FourCC::ESDS => {
                check::<bmff::Esds>(whole);
                if let Ok(e) = bmff::Esds::decode(whole) {
                    let _ = (
                        e.object_type_indication(),
                        e.decoder_specific_info(),
                        e.max_bitrate(),
                        e.avg_bitrate(),
                    );
                }
            }
            FourCC::TRUN => check::<bmff::Trun>(whole),
            FourCC::SAIZ => check::<bmff::Saiz>(whole),
            FourCC::SAIO => check::<bmff::Saio>(whole),
            FourCC::ELST => check::<bmff::Elst>(whole),
            _ => {}
        }
        // Any box may be a container we do not model: look inside anyway.
        walk(body, depth + 1);
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data, 0);
});
