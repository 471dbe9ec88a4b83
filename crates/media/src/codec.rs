//! What a track's sample entry tells about its codec: the RFC 6381 `codecs`
//! string that manifests need (with ISO/IEC 14496-15 Annex E for AVC and
//! HEVC, RFC 6381 §3.3 for MPEG-4 audio, [`crate::audio`] for every audio
//! codec), and how `cenc` must split its samples into clear and protected
//! ranges.

use bmff::{AvcC, HvcC, SampleEntry};
use cenc::{Scheme, SubsampleGenerator};

use crate::audio::AudioConfig;
use crate::error::{Error, Result};

/// `avc1.PPCCLL`: profile, constraint flags, level as hex bytes.
pub fn avc_codecs(kind: &str, c: &AvcC) -> String {
    format!("{kind}.{:02x}{:02x}{:02x}", c.profile_indication, c.profile_compatibility, c.level_indication)
}

/// `hvc1.A.B.C.D`: profile space+idc, compatibility flags in reverse bit
/// order as hex, tier+level, constraint bytes without trailing zero bytes.
pub fn hevc_codecs(kind: &str, c: &HvcC) -> String {
    let space = match c.general_profile_space {
        1 => "A",
        2 => "B",
        3 => "C",
        _ => "",
    };
    let compat = c.general_profile_compatibility_flags.reverse_bits();
    let tier = if c.general_tier_flag { 'H' } else { 'L' };
    let flags = c.general_constraint_indicator_flags.to_be_bytes();
    // 48-bit field in the low bytes of the u64.
    let mut bytes: Vec<u8> = flags[2..].to_vec();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    let mut s = format!("{kind}.{space}{}.{compat:x}.{tier}{}", c.general_profile_idc, c.general_level_idc);
    for b in bytes {
        s.push_str(&format!(".{b:x}"));
    }
    s
}

/// `mp4a.40.N` from the AudioSpecificConfig, `mp4a.OO` from the object type
/// when there is none.
pub fn mp4a_codecs(esds: &bmff::Esds) -> String {
    let oti = esds.object_type_indication().unwrap_or(0x40);
    if oti == 0x40 {
        if let Some(asc) = esds.decoder_specific_info().filter(|d| !d.is_empty()) {
            let mut aot = asc[0] >> 3;
            if aot == 31 && asc.len() >= 2 {
                aot = 32 + (((asc[0] & 0x07) << 3) | (asc[1] >> 5));
            }
            return format!("mp4a.40.{aot}");
        }
        return "mp4a.40.2".into();
    }
    format!("mp4a.{oti:02x}")
}

/// Codec facts of one track.
#[derive(Debug, Clone)]
pub struct CodecInfo {
    pub codecs: String,
    pub cenc_codec: cenc::Codec,
}

pub fn codec_info(track: u32, entry: &SampleEntry) -> Result<CodecInfo> {
    describe(entry).map_err(|reason| Error::Unsupported(format!("track {track}: {reason}")))
}

/// [`codec_info`] without a track: `Err` says what is not supported, e.g.
/// `sample entry 'sowt' (H.264, ... are supported)`.
pub fn describe(entry: &SampleEntry) -> std::result::Result<CodecInfo, String> {
    match entry {
        SampleEntry::Visual(v) => {
            let kind = v.kind.to_string();
            if let Some(c) = &v.avcc {
                Ok(CodecInfo { codecs: avc_codecs(&kind, c), cenc_codec: cenc::Codec::Avc })
            } else if let Some(c) = &v.hvcc {
                Ok(CodecInfo { codecs: hevc_codecs(&kind, c), cenc_codec: cenc::Codec::Hevc })
            } else {
                Err(format!("video sample entry '{kind}' (H.264 and H.265 are supported)"))
            }
        }
        SampleEntry::Audio(a) => {
            let config = AudioConfig::of(a).map_err(|e| e.0)?;
            // Every audio codec is encrypted whole-sample (ISO/IEC 23001-7
            // §9.5 for `cenc`, §10.4 for `cbcs`).
            let cenc_codec = if a.kind == bmff::FourCC::MP4A { cenc::Codec::Aac } else { cenc::Codec::Other };
            Ok(CodecInfo { codecs: config.codecs, cenc_codec })
        }
        SampleEntry::Other(raw) => Err(format!(
            "sample entry '{}' (H.264, H.265, AAC, AC-3, E-AC-3, Opus and FLAC are supported)",
            raw.kind
        )),
    }
}

/// The subsample generator for a track's samples under `scheme`.
pub fn subsample_generator(track: u32, entry: &SampleEntry, scheme: Scheme) -> Result<SubsampleGenerator> {
    let made = match entry {
        SampleEntry::Visual(v) => {
            if let Some(c) = &v.avcc {
                SubsampleGenerator::avc(c.nal_length_size(), &c.sps, &c.pps, scheme)
            } else if let Some(c) = &v.hvcc {
                let nalus = |t: u8| -> Vec<Vec<u8>> {
                    c.arrays.iter().filter(|a| a.nal_unit_type == t).flat_map(|a| a.nalus.iter().cloned()).collect()
                };
                SubsampleGenerator::hevc(c.nal_length_size(), &nalus(32), &nalus(33), &nalus(34), scheme)
            } else {
                return Err(Error::Unsupported(format!("track {track}: video codec without avcC or hvcC")));
            }
        }
        _ => Ok(SubsampleGenerator::whole_sample(scheme)),
    };
    made.map_err(|source| Error::Crypto { track, sample: 0, source })
}
