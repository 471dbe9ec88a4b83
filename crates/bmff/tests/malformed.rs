//! Hostile inputs: each must be an error naming the right box, never a
//! panic and never an allocation sized by a lying length field. The
//! proptests flip and cut bytes of a valid init segment and fragment and
//! only require that nothing panics and that whatever decodes re-encodes
//! to something that decodes to the same value.

use bmff::*;
use proptest::prelude::*;

fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(body);
    v
}

fn full(version: u8, flags: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = ((u32::from(version) << 24) | flags).to_be_bytes().to_vec();
    v.extend_from_slice(rest);
    v
}

fn init_segment() -> Vec<u8> {
    let mut v = VisualSampleEntry::new(FourCC::ENCV, 320, 180);
    v.avcc = Some(AvcC {
        configuration_version: 1,
        profile_indication: 0x64,
        profile_compatibility: 0,
        level_indication: 0x1f,
        length_size_minus_one: 3,
        sps: vec![vec![0x67, 0x64, 0, 0x1f]],
        pps: vec![vec![0x68, 0xee]],
        ext: vec![],
    });
    v.sinf.push(Sinf {
        frma: Frma {
            original_format: FourCC::AVC1,
        },
        schm: Some(Schm {
            scheme_type: FourCC::CBCS,
            scheme_version: 0x10000,
            scheme_uri: None,
        }),
        schi: Some(Schi {
            tenc: Some(Tenc {
                version: 1,
                default_crypt_byte_block: 1,
                default_skip_byte_block: 9,
                default_is_protected: 1,
                default_per_sample_iv_size: 0,
                default_kid: [0x42; 16],
                default_constant_iv: Some(vec![7; 16]),
            }),
            other: vec![],
        }),
        other: vec![],
    });
    let mut trak = Trak::default();
    trak.tkhd.track_id = 1;
    trak.mdia.hdlr = Hdlr::new(FourCC(*b"vide"), "VideoHandler");
    trak.mdia.minf.vmhd = Some(Vmhd::default());
    trak.mdia.minf.dinf = Some(Dinf::self_contained());
    trak.mdia
        .minf
        .stbl
        .stsd
        .entries
        .push(SampleEntry::Visual(v));
    trak.mdia.minf.stbl.stsz = Some(Stsz::default());
    trak.mdia.minf.stbl.stco = Some(Stco::default());
    let moov = Moov {
        mvhd: Mvhd {
            next_track_id: 2,
            ..Default::default()
        },
        traks: vec![trak],
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: 1,
                default_sample_description_index: 1,
                ..Default::default()
            }],
            other: vec![],
        }),
        pssh: vec![Pssh {
            version: 1,
            system_id: [0x10; 16],
            kids: vec![[0x42; 16]],
            data: vec![],
        }],
        other: vec![],
    };
    moov.to_bytes().unwrap()
}

fn fragment() -> Vec<u8> {
    let s = |d| TrunSample {
        duration: Some(d),
        size: Some(100),
        flags: None,
        composition_time_offset: Some(-512),
    };
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        trafs: vec![Traf {
            tfhd: Tfhd {
                track_id: 1,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt {
                version: 1,
                base_media_decode_time: u64::from(u32::MAX) + 1,
            }),
            truns: vec![Trun {
                version: 1,
                data_offset: Some(200),
                first_sample_flags: Some(0x0200_0000),
                samples: vec![s(512), s(512)],
            }],
            senc: Some(Senc {
                version: 0,
                flags: 2,
                samples: vec![
                    SencSample {
                        iv: vec![1; 8],
                        subsamples: vec![Subsample {
                            clear: 10,
                            protected: 90,
                        }],
                    },
                    SencSample {
                        iv: vec![2; 8],
                        subsamples: vec![Subsample {
                            clear: 100,
                            protected: 0,
                        }],
                    },
                ],
            }),
            saiz: vec![Saiz {
                aux_info: None,
                default_sample_info_size: 0,
                sample_count: 2,
                sample_info_sizes: vec![16, 16],
            }],
            saio: vec![Saio {
                version: 0,
                aux_info: None,
                offsets: vec![0],
            }],
            other: vec![],
        }],
        pssh: vec![],
        other: vec![],
    };
    moof.to_bytes().unwrap()
}

#[test]
fn built_segments_roundtrip() {
    let m = init_segment();
    let moov = Moov::decode(&m).unwrap();
    assert_eq!(moov.to_bytes().unwrap(), m);
    let f = fragment();
    let moof = Moof::decode(&f).unwrap();
    assert_eq!(moof.to_bytes().unwrap(), f);
    assert_eq!(Moof::decode_with_iv_size(&f, 8).unwrap(), moof);
    // With the wrong IV size from context the senc no longer parses.
    assert!(Moof::decode_with_iv_size(&f, 16).is_err());
}

#[test]
fn malformed_table() {
    let stsd_entry = bx(b"avc1", &[0; 10]);
    let sinf_no_frma = bx(b"sinf", &bx(b"schi", &[]));
    type Case = (&'static str, Vec<u8>, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        ("size below header", b"\0\0\0\x07moov".to_vec(), |e| {
            matches!(e, Error::InvalidSize { .. })
        }),
        ("size past end", b"\0\0\0\x20moov".to_vec(), |e| {
            matches!(e, Error::InvalidSize { .. })
        }),
        (
            "largesize overflow",
            b"\0\0\0\x01moov\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
            |e| matches!(e, Error::InvalidSize { .. }),
        ),
        ("truncated header", b"\0\0\0".to_vec(), |e| {
            matches!(e, Error::Truncated { .. })
        }),
        ("moov without mvhd", bx(b"moov", &[]), |e| {
            *e == Error::MissingBox {
                parent: FourCC::MOOV,
                child: FourCC::MVHD,
            }
        }),
        (
            "child past parent",
            bx(b"moov", b"\0\0\0\x40mvhd"),
            |e| matches!(e, Error::OverDecode { parent, child, .. } if *parent == FourCC::MOOV && *child == FourCC::MVHD),
        ),
        (
            "trailing bytes in a child",
            {
                let mut mvhd = Mvhd::default().to_bytes().unwrap();
                mvhd.push(0);
                mvhd[3] += 1;
                bx(b"moov", &mvhd)
            },
            |e| matches!(e, Error::UnderDecode { kind, left: 1 } if *kind == FourCC::MVHD),
        ),
        (
            "duplicate mvhd",
            {
                let mvhd = Mvhd::default().to_bytes().unwrap();
                bx(b"moov", &[mvhd.clone(), mvhd].concat())
            },
            |e| {
                *e == Error::DuplicateBox {
                    parent: FourCC::MOOV,
                    child: FourCC::MVHD,
                }
            },
        ),
        (
            "short sample entry",
            bx(b"stsd", &[full(0, 0, &[0, 0, 0, 1]), stsd_entry].concat()),
            |e| matches!(e, Error::Truncated { kind, .. } if *kind == FourCC::AVC1),
        ),
        (
            "stsd count lies",
            bx(b"stsd", &full(0, 0, &[0xff, 0xff, 0xff, 0xff])),
            |e| matches!(e, Error::Mismatch { .. }),
        ),
        (
            "stsz 4e9 entries in 20 bytes",
            bx(b"stsz", &full(0, 0, &[0, 0, 0, 0, 0xee, 0x6b, 0x28, 0])),
            |e| matches!(e, Error::Truncated { kind, .. } if *kind == FourCC::STSZ),
        ),
        (
            "trun 4e9 empty samples",
            bx(b"trun", &full(0, 0, &[0xee, 0x6b, 0x28, 0])),
            |e| matches!(e, Error::TooLarge { kind, .. } if *kind == FourCC::TRUN),
        ),
        (
            "senc 4e9 empty samples",
            bx(b"senc", &full(0, 0, &[0xee, 0x6b, 0x28, 0])),
            |e| matches!(e, Error::TooLarge { kind, .. } if *kind == FourCC::SENC),
        ),
        (
            "pssh data size lies",
            bx(
                b"pssh",
                &full(
                    0,
                    0,
                    &[[0u8; 16].as_slice(), &[0xff, 0xff, 0xff, 0xff]].concat(),
                ),
            ),
            |e| matches!(e, Error::Truncated { kind, .. } if *kind == FourCC::PSSH),
        ),
        (
            "tenc bad iv size",
            bx(
                b"tenc",
                &full(0, 0, &[[0, 0, 1, 7].as_slice(), &[0; 16]].concat()),
            ),
            |e| matches!(e, Error::Invalid { kind, .. } if *kind == FourCC::TENC),
        ),
        ("sinf without frma", sinf_no_frma, |e| {
            *e == Error::MissingBox {
                parent: FourCC::SINF,
                child: FourCC::FRMA,
            }
        }),
        ("tfdt version 2", bx(b"tfdt", &full(2, 0, &[0; 8])), |e| {
            matches!(e, Error::UnsupportedVersion { version: 2, .. })
        }),
        (
            "stz2 field size 3",
            bx(b"stz2", &full(0, 0, &[0, 0, 0, 3, 0, 0, 0, 0])),
            |e| matches!(e, Error::Invalid { kind, .. } if *kind == FourCC::STZ2),
        ),
    ];
    for (name, bytes, want) in cases {
        let kind = FourCC([
            bytes.get(4).copied().unwrap_or(0),
            bytes.get(5).copied().unwrap_or(0),
            bytes.get(6).copied().unwrap_or(0),
            bytes.get(7).copied().unwrap_or(0),
        ]);
        let err = match &kind.0 {
            b"stsd" => Stsd::decode(&bytes).err(),
            b"stsz" => Stsz::decode(&bytes).err(),
            b"trun" => Trun::decode(&bytes).err(),
            b"senc" => Senc::decode(&bytes).err(),
            b"pssh" => Pssh::decode(&bytes).err(),
            b"tenc" => Tenc::decode(&bytes).err(),
            b"sinf" => Sinf::decode(&bytes).err(),
            b"tfdt" => Tfdt::decode(&bytes).err(),
            b"stz2" => Stz2::decode(&bytes).err(),
            _ => Moov::decode(&bytes).err(),
        };
        let err = err.unwrap_or_else(|| panic!("{name}: decoded"));
        assert!(want(&err), "{name}: unexpected error {err:?}");
        // Errors print the box, never payload bytes.
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn nesting_is_bounded() {
    // 10,000 nested boxes of an unknown type: iter_boxes is flat, and a typed
    // decode never recurses into unknown boxes, so this cannot overflow the stack.
    let mut b = Vec::new();
    for _ in 0..10_000 {
        b = bx(b"abcd", &b);
    }
    let moov = bx(b"moov", &[Mvhd::default().to_bytes().unwrap(), b].concat());
    let m = Moov::decode(&moov).unwrap();
    assert_eq!(m.to_bytes().unwrap(), moov);
    // A reader chain deeper than MAX_DEPTH is refused.
    let mut r = Reader::new(&[]);
    for _ in 0..MAX_DEPTH {
        r = r.child(FourCC::MOOV, &[]).unwrap();
    }
    assert!(matches!(
        r.child(FourCC::TRAK, &[]),
        Err(Error::TooDeep { .. })
    ));
}

fn reencode_is_stable<T: Atom + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(v) = T::decode(bytes) {
        let out = v.to_bytes().expect("a decoded value encodes");
        assert_eq!(T::decode(&out).expect("our output decodes"), v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_init_segment(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
        let mut b = init_segment();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] ^= v;
        }
        let cut = cut % (b.len() + 1);
        reencode_is_stable::<Moov>(&b);
        reencode_is_stable::<Moov>(&b[..cut]);
        if let Ok(m) = Moov::decode(&b) {
            for t in &m.traks {
                let _ = sample_table::samples(&t.mdia.minf.stbl);
            }
        }
    }

    #[test]
    fn mutated_fragment(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
        let mut b = fragment();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] ^= v;
        }
        let cut = cut % (b.len() + 1);
        reencode_is_stable::<Moof>(&b);
        reencode_is_stable::<Moof>(&b[..cut]);
        let _ = Moof::decode_with_iv_size(&b, 8);
    }

    #[test]
    fn random_trun_roundtrip(
        version in 0u8..2,
        data_offset in proptest::option::of(any::<i32>()),
        first in proptest::option::of(any::<u32>()),
        mask in 0u8..16,
        vals in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>(), any::<i32>()), 0..20),
    ) {
        let samples: Vec<TrunSample> = vals.iter().map(|&(d, s, f, c)| TrunSample {
            duration: (mask & 1 != 0).then_some(d),
            size: (mask & 2 != 0).then_some(s),
            flags: (mask & 4 != 0).then_some(f),
            composition_time_offset: (mask & 8 != 0).then_some(c),
        }).collect();
        let t = Trun { version, data_offset, first_sample_flags: first, samples };
        let b = t.to_bytes().unwrap();
        prop_assert_eq!(Trun::decode(&b).unwrap(), t);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        for item in iter_boxes(&data) {
            if item.is_err() { break; }
        }
        reencode_is_stable::<Moov>(&data);
        reencode_is_stable::<Moof>(&data);
        let _ = BoxHeader::parse(&data);
    }
}
