//! What a track's sample entry tells about its codec: the RFC 6381 `codecs`
//! string that manifests need (with ISO/IEC 14496-15 Annex E for AVC and
//! HEVC, RFC 6381 §3.3 for MPEG-4 audio), and how `cenc` must split its
//! samples into clear and protected ranges.

use bmff::{AvcC, HvcC, SampleEntry};
use cenc::{Scheme, SubsampleGenerator};

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

/// Output channels from an MPEG-4 AudioSpecificConfig's
/// `channelConfiguration` (ISO/IEC 14496-3 §1.6.2.1, Table 1.19; 1–6 are
/// that many channels, 7 is 7.1): the sample entry's `channelcount` is 2
/// whatever the audio (ffmpeg, ISO/IEC 14496-12 §12.2.3 leave it so), so
/// 5.1 would be announced as stereo. `None` when the configuration is in a
/// program config element (0) or the bits are short.
pub fn aac_channels(asc: &[u8]) -> Option<u16> {
    // audioObjectType: 5 bits, 6 more when it is 31.
    let mut bits = Bits { data: asc, pos: 0 };
    if bits.take(5)? == 31 {
        bits.take(6)?;
    }
    // samplingFrequencyIndex: 4 bits, then 24 bits of frequency when 15.
    if bits.take(4)? == 15 {
        bits.take(24)?;
    }
    match bits.take(4)? {
        c @ 1..=6 => Some(c as u16),
        7 | 12 | 14 => Some(8),
        11 => Some(7),
        13 => Some(24),
        _ => None,
    }
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

/// Codec facts of one track.
#[derive(Debug, Clone)]
pub struct CodecInfo {
    pub codecs: String,
    pub cenc_codec: cenc::Codec,
}

pub fn codec_info(track: u32, entry: &SampleEntry) -> Result<CodecInfo> {
    match entry {
        SampleEntry::Visual(v) => {
            let kind = v.kind.to_string();
            if let Some(c) = &v.avcc {
                Ok(CodecInfo { codecs: avc_codecs(&kind, c), cenc_codec: cenc::Codec::Avc })
            } else if let Some(c) = &v.hvcc {
                Ok(CodecInfo { codecs: hevc_codecs(&kind, c), cenc_codec: cenc::Codec::Hevc })
            } else {
                Err(Error::Unsupported(format!("track {track}: video sample entry '{kind}' (H.264 and H.265 are supported)")))
            }
        }
        SampleEntry::Audio(a) => match &a.esds {
            Some(esds) => Ok(CodecInfo { codecs: mp4a_codecs(esds), cenc_codec: cenc::Codec::Aac }),
            None => Err(Error::Unsupported(format!("track {track}: audio sample entry '{}' (AAC is supported)", a.kind))),
        },
        SampleEntry::Other(raw) => Err(Error::Unsupported(format!("track {track}: sample entry '{}'", raw.kind))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_channel_configuration() {
        // AAC-LC 48 kHz: stereo, mono, 5.1; 7.1 (7); HE-AAC with an
        // explicit frequency (index 15); a PCE (0); too short.
        assert_eq!(aac_channels(&[0x11, 0x90]), Some(2));
        assert_eq!(aac_channels(&[0x11, 0x88]), Some(1));
        assert_eq!(aac_channels(&[0x11, 0xb0]), Some(6));
        assert_eq!(aac_channels(&[0x11, 0xb8]), Some(8));
        assert_eq!(aac_channels(&[0x17, 0x80, 0xbb, 0x80, 0x10]), Some(2));
        assert_eq!(aac_channels(&[0x11, 0x80]), None);
        assert_eq!(aac_channels(&[0x11]), None);
        assert_eq!(aac_channels(&[]), None);
    }
}
