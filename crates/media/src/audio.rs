//! What an audio track's decoder configuration says: codec string, channel
//! count and layout, sample rate.
//!
//! Why not the sample entry's own fields: ISO/IEC 14496-12 §12.2.3 leaves
//! `channelcount` at 2 and the 16.16 `samplerate` cannot hold 96 kHz, and
//! ffmpeg writes them so whatever the audio; players choose renditions by
//! what the manifest says, so a 5.1 track announced as stereo is a bug on
//! some device. Each codec's configuration box is the authority:
//! - AAC: the AudioSpecificConfig in `esds` (ISO/IEC 14496-3 §1.6.2.1);
//! - AC-3: `dac3`, E-AC-3: `dec3` (ETSI TS 102 366 Annex F), including the
//!   dependent substreams' extra channels (`chan_loc`) and the Joint Object
//!   Coding (Dolby Atmos) extension and its complexity index (ETSI TS 103
//!   420 Annex C);
//! - Opus: `dOps` (Encapsulation of Opus in ISOBMFF §4.3.2), always
//!   decoded at 48 kHz;
//! - FLAC: the STREAMINFO block of `dfLa` (FLAC in ISOBMFF §3.3.2).
//!
//! Dolby audio is announced in DASH with its own channel configuration
//! scheme, a 16-bit map of loudspeaker positions (ETSI TS 102 366 Table
//! I.1.1 via DASH-IF IOP v4.3 §9.2.1.2): bit 15 (MSB) L, C, R, Ls, Rs,
//! Lc/Rc, Lrs/Rrs, Cs, Ts, Lsd/Rsd, Lw/Rw, Vhl/Vhr, Vhc, Lts/Rts, LFE2,
//! bit 0 LFE; 5.1 is `F801`.

use bmff::{AudioSampleEntry, FourCC, RawBox};

use crate::nal::BitReader;

/// Codec facts of an audio track, from its decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// RFC 6381 `codecs`: `mp4a.40.2`, `ac-3`, `ec-3`, `opus`, `flac`.
    pub codecs: String,
    /// Output channels (5.1 is 6).
    pub channels: u16,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Dolby channel map for AC-3 and E-AC-3 (see the module docs).
    pub dolby_channel_map: Option<u16>,
    /// E-AC-3 Joint Object Coding complexity index (the number of objects,
    /// 16 for the usual Atmos), when the stream carries JOC.
    pub joc_complexity: Option<u8>,
}

/// Why an audio entry cannot be packaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl AudioConfig {
    /// Reads the configuration of `entry` (an ISO-layout entry: see
    /// [`AudioSampleEntry::to_iso`]).
    pub fn of(entry: &AudioSampleEntry) -> Result<AudioConfig, Unsupported> {
        let declared_rate = entry.declared_sample_rate();
        let declared_channels = u16::try_from(entry.declared_channels()).unwrap_or(2);
        let missing = |what: &str| Unsupported(format!("audio sample entry '{}' without its {what} box", entry.kind));
        match &entry.kind.0 {
            b"mp4a" => {
                let esds = entry.esds.as_ref().ok_or_else(|| missing("esds"))?;
                let asc = esds.decoder_specific_info().filter(|d| !d.is_empty());
                Ok(AudioConfig {
                    codecs: crate::codec::mp4a_codecs(esds),
                    channels: asc.and_then(aac_channels).unwrap_or(declared_channels),
                    sample_rate: asc.and_then(aac_sample_rate).unwrap_or(declared_rate),
                    dolby_channel_map: None,
                    joc_complexity: None,
                })
            }
            b"ac-3" => {
                let d = Dac3::parse(&child(entry, b"dac3").ok_or_else(|| missing("dac3"))?.body)
                    .ok_or_else(|| Unsupported("ac-3: dac3 box too short".into()))?;
                let map = dolby_map(d.acmod, d.lfeon, 0);
                Ok(AudioConfig {
                    codecs: "ac-3".into(),
                    channels: dolby_channels(map),
                    sample_rate: fscod_rate(d.fscod).unwrap_or(declared_rate),
                    dolby_channel_map: Some(map),
                    joc_complexity: None,
                })
            }
            b"ec-3" => {
                let d = Dec3::parse(&child(entry, b"dec3").ok_or_else(|| missing("dec3"))?.body)
                    .ok_or_else(|| Unsupported("ec-3: dec3 box too short".into()))?;
                let map = dolby_map(d.acmod, d.lfeon, d.chan_loc);
                Ok(AudioConfig {
                    codecs: "ec-3".into(),
                    channels: dolby_channels(map),
                    sample_rate: fscod_rate(d.fscod).unwrap_or(declared_rate),
                    dolby_channel_map: Some(map),
                    joc_complexity: d.joc_complexity,
                })
            }
            b"Opus" => {
                let body = &child(entry, b"dOps").ok_or_else(|| missing("dOps"))?.body;
                // Version (0), OutputChannelCount, PreSkip, InputSampleRate, ...
                let channels = *body.get(1).ok_or_else(|| Unsupported("Opus: dOps box too short".into()))?;
                if channels == 0 {
                    return Err(Unsupported("Opus: dOps says 0 output channels".into()));
                }
                Ok(AudioConfig {
                    codecs: "opus".into(),
                    channels: u16::from(channels),
                    sample_rate: 48_000,
                    dolby_channel_map: None,
                    joc_complexity: None,
                })
            }
            b"fLaC" => {
                let body = &child(entry, b"dfLa").ok_or_else(|| missing("dfLa"))?.body;
                let (sample_rate, channels) =
                    flac_streaminfo(body).ok_or_else(|| Unsupported("fLaC: dfLa has no STREAMINFO block".into()))?;
                Ok(AudioConfig {
                    codecs: "flac".into(),
                    channels,
                    sample_rate: if sample_rate == 0 { declared_rate } else { sample_rate },
                    dolby_channel_map: None,
                    joc_complexity: None,
                })
            }
            _ => Err(Unsupported(format!(
                "audio sample entry '{}' (AAC, AC-3, E-AC-3, Opus and FLAC are supported)",
                entry.kind
            ))),
        }
    }
}

fn child<'a>(entry: &'a AudioSampleEntry, kind: &[u8; 4]) -> Option<&'a RawBox> {
    entry.other.iter().find(|b| b.kind == FourCC(*kind))
}

/// Output channels from an MPEG-4 AudioSpecificConfig's
/// `channelConfiguration` (ISO/IEC 14496-3 §1.6.2.1, Table 1.19; 1–6 are
/// that many channels, 7 is 7.1): the sample entry's `channelcount` is 2
/// whatever the audio (ffmpeg, ISO/IEC 14496-12 §12.2.3 leave it so), so
/// 5.1 would be announced as stereo. `None` when the configuration is in a
/// program config element (0) or the bits are short.
pub fn aac_channels(asc: &[u8]) -> Option<u16> {
    let mut bits = asc_after_frequency(asc)?.0;
    match bits.bits(4)? {
        c @ 1..=6 => Some(c as u16),
        7 | 12 | 14 => Some(8),
        11 => Some(7),
        13 => Some(24),
        _ => None,
    }
}

/// Sampling frequency of an AudioSpecificConfig (`samplingFrequencyIndex`,
/// ISO/IEC 14496-3 Table 1.18, or the explicit 24-bit value).
pub fn aac_sample_rate(asc: &[u8]) -> Option<u32> {
    asc_after_frequency(asc).map(|(_, f)| f).filter(|f| *f != 0)
}

const AAC_FREQUENCIES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// Reads `audioObjectType` and the frequency; returns the reader at
/// `channelConfiguration` and the frequency (0 for a reserved index).
fn asc_after_frequency(asc: &[u8]) -> Option<(BitReader<'_>, u32)> {
    let mut bits = BitReader::new(asc);
    // audioObjectType: 5 bits, 6 more when it is 31.
    if bits.bits(5)? == 31 {
        bits.bits(6)?;
    }
    // samplingFrequencyIndex: 4 bits, then 24 bits of frequency when 15.
    let index = bits.bits(4)?;
    let frequency = if index == 15 { bits.bits(24)? } else { AAC_FREQUENCIES.get(index as usize).copied().unwrap_or(0) };
    Some((bits, frequency))
}

/// `dac3` (ETSI TS 102 366 §F.4): fscod 2, bsid 5, bsmod 3, acmod 3,
/// lfeon 1, bit_rate_code 5, reserved 5.
struct Dac3 {
    fscod: u32,
    acmod: u32,
    lfeon: bool,
}

impl Dac3 {
    fn parse(body: &[u8]) -> Option<Dac3> {
        let mut b = BitReader::new(body);
        let fscod = b.bits(2)?;
        b.bits(5 + 3)?;
        let acmod = b.bits(3)?;
        let lfeon = b.bits(1)? == 1;
        Some(Dac3 { fscod, acmod, lfeon })
    }
}

/// `dec3` (ETSI TS 102 366 §F.6), first independent substream: data_rate
/// 13, num_ind_sub 3, then fscod 2, bsid 5, reserved 1, asvc 1, bsmod 3,
/// acmod 3, lfeon 1, reserved 3, num_dep_sub 4, chan_loc 9 when there are
/// dependent substreams (else 1 reserved bit); after the substreams, the
/// optional JOC extension (ETSI TS 103 420 §C.3.1): reserved 7,
/// flag_ec3_extension_type_a 1, complexity_index_type_a 8.
struct Dec3 {
    fscod: u32,
    acmod: u32,
    lfeon: bool,
    chan_loc: u32,
    joc_complexity: Option<u8>,
}

impl Dec3 {
    fn parse(body: &[u8]) -> Option<Dec3> {
        let mut b = BitReader::new(body);
        b.bits(13)?;
        let substreams = b.bits(3)? + 1;
        let mut first = None;
        for _ in 0..substreams {
            let fscod = b.bits(2)?;
            b.bits(5 + 1 + 1 + 3)?;
            let acmod = b.bits(3)?;
            let lfeon = b.bits(1)? == 1;
            b.bits(3)?;
            let dependents = b.bits(4)?;
            let chan_loc = if dependents > 0 { b.bits(9)? } else { b.bits(1).map(|_| 0)? };
            first.get_or_insert(Dec3 { fscod, acmod, lfeon, chan_loc, joc_complexity: None });
        }
        let mut d = first?;
        if b.remaining() >= 16 {
            b.bits(7)?;
            if b.bits(1)? == 1 {
                d.joc_complexity = Some(b.bits(8)? as u8);
            }
        }
        Some(d)
    }
}

/// 48, 44.1 or 32 kHz (`fscod` 3 means a reduced rate given elsewhere).
fn fscod_rate(fscod: u32) -> Option<u32> {
    [48_000, 44_100, 32_000].get(fscod as usize).copied()
}

/// Dolby channel map from `acmod` (ETSI TS 102 366 Table 4.3: 1+1, 1/0,
/// 2/0, 3/0, 2/1, 3/1, 2/2, 3/2), `lfeon` and a dependent substream's
/// `chan_loc` (Table F.6.1, as the 9-bit number read: bit 0 Lc/Rc, 1
/// Lrs/Rrs, 2 Cs, 3 Ts, 4 Lsd/Rsd, 5 Lw/Rw, 6 Vhl/Vhr, 7 Vhc, 8 (MSB)
/// LFE2, as Shaka Packager reads it too), which fills positions Lc/Rc to
/// Vhc and LFE2.
pub fn dolby_map(acmod: u32, lfeon: bool, chan_loc: u32) -> u16 {
    const L: u16 = 0x8000;
    const C: u16 = 0x4000;
    const R: u16 = 0x2000;
    const LS: u16 = 0x1000;
    const RS: u16 = 0x0800;
    const CS: u16 = 0x0100;
    let mut map = match acmod & 7 {
        0 | 2 => L | R,
        1 => C,
        3 => L | C | R,
        4 => L | R | CS,
        5 => L | C | R | CS,
        6 => L | R | LS | RS,
        _ => L | C | R | LS | RS,
    };
    for i in 0..8 {
        if chan_loc & (1 << i) != 0 {
            map |= 0x0400 >> i;
        }
    }
    if chan_loc & 0x100 != 0 {
        map |= 0x0002;
    }
    if lfeon {
        map |= 0x0001;
    }
    map
}

/// Channels of a Dolby channel map: pairs count two.
pub fn dolby_channels(map: u16) -> u16 {
    const PAIRS: u16 = 0x0400 | 0x0200 | 0x0040 | 0x0020 | 0x0010 | 0x0004;
    (map.count_ones() + (map & PAIRS).count_ones()) as u16
}

/// Sample rate and channels of the STREAMINFO metadata block in a `dfLa`
/// body (a full box: version and flags first; FLAC format §8.1, §8.2:
/// last-block flag 1, type 7, length 24; then min/max block size 16+16,
/// min/max frame size 24+24, sample rate 20, channels − 1 3, ...).
fn flac_streaminfo(body: &[u8]) -> Option<(u32, u16)> {
    let mut blocks = body.get(4..)?;
    loop {
        let header = blocks.get(..4)?;
        let last = header[0] & 0x80 != 0;
        let kind = header[0] & 0x7f;
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let data = blocks.get(4..4 + len)?;
        if kind == 0 {
            let mut b = BitReader::new(data);
            b.bits(16 + 16 + 24 + 24)?;
            let rate = b.bits(20)?;
            let channels = b.bits(3)? as u16 + 1;
            return Some((rate, channels));
        }
        if last {
            return None;
        }
        blocks = &blocks[4 + len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &[u8; 4], config: &[u8; 4], body: &[u8]) -> AudioSampleEntry {
        let mut e = AudioSampleEntry::new(FourCC(*kind), 2, 48_000);
        e.other.push(RawBox { kind: FourCC(*config), usertype: None, body: body.to_vec() });
        e
    }

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
        assert_eq!(aac_sample_rate(&[0x11, 0x90]), Some(48_000));
        assert_eq!(aac_sample_rate(&[0x12, 0x10]), Some(44_100));
        assert_eq!(aac_sample_rate(&[0x17, 0x80, 0xbb, 0x80, 0x10]), Some(96_000));
        assert_eq!(aac_sample_rate(&[0x16, 0x80]), None, "reserved index 13");
    }

    #[test]
    fn ac3_5_1_from_dac3() {
        // As ffmpeg writes it: 48 kHz, bsid 8, acmod 7 (3/2), LFE, 384 kb/s.
        let c = AudioConfig::of(&entry(b"ac-3", b"dac3", &[0x10, 0x3d, 0xc0])).unwrap();
        assert_eq!((c.codecs.as_str(), c.channels, c.sample_rate), ("ac-3", 6, 48_000));
        assert_eq!(c.dolby_channel_map, Some(0xF801));
        assert_eq!(c.joc_complexity, None);
        // Stereo 2/0 without LFE; mono 1/0.
        assert_eq!(dolby_map(2, false, 0), 0xA000);
        assert_eq!(dolby_map(1, false, 0), 0x4000);
        assert_eq!(dolby_channels(0xA000), 2);
    }

    #[test]
    fn eac3_from_dec3_with_dependents_and_joc() {
        // ffmpeg's 5.1: data_rate 256, one substream, acmod 7, LFE.
        let c = AudioConfig::of(&entry(b"ec-3", b"dec3", &[0x08, 0x00, 0x20, 0x0f, 0x00])).unwrap();
        assert_eq!((c.codecs.as_str(), c.channels, c.dolby_channel_map), ("ec-3", 6, Some(0xF801)));
        assert_eq!(c.joc_complexity, None);
        // The same with the JOC extension, complexity index 16 (Atmos).
        let c = AudioConfig::of(&entry(b"ec-3", b"dec3", &[0x08, 0x00, 0x20, 0x0f, 0x00, 0x01, 0x10])).unwrap();
        assert_eq!((c.channels, c.joc_complexity), (6, Some(16)));
        // 7.1: a dependent substream adding Lrs/Rrs (chan_loc bit 1).
        let mut bits = String::new();
        bits += &format!("{:013b}{:03b}", 384, 0);
        bits += &format!("{:02b}{:05b}0{:01b}{:03b}{:03b}{:01b}000{:04b}{:09b}", 0, 16, 0, 0, 7, 1, 1, 0b0_0000_0010);
        while !bits.len().is_multiple_of(8) {
            bits.push('0');
        }
        let body: Vec<u8> = bits.as_bytes().chunks(8).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap()).collect();
        let c = AudioConfig::of(&entry(b"ec-3", b"dec3", &body)).unwrap();
        assert_eq!((c.channels, c.dolby_channel_map), (8, Some(0xFA01)));
    }

    #[test]
    fn opus_and_flac() {
        // dOps as ffmpeg writes it: version 0, 2 channels, pre-skip 312, 48 kHz.
        let c = AudioConfig::of(&entry(b"Opus", b"dOps", &[0, 2, 1, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0])).unwrap();
        assert_eq!((c.codecs.as_str(), c.channels, c.sample_rate), ("opus", 2, 48_000));
        let mut dfla = vec![0, 0, 0, 0, 0x80, 0, 0, 34];
        dfla.extend_from_slice(&[0x12, 0, 0x12, 0, 0, 0, 0x0e, 0, 0x14, 0x5e]);
        // 44.1 kHz, 6 channels, 16 bits: rate 20 bits, ch-1 3 bits, bps-1 5 bits.
        let v: u64 = (44_100u64 << 44) | (5u64 << 41) | (15u64 << 36);
        dfla.extend_from_slice(&v.to_be_bytes());
        dfla.extend_from_slice(&[0; 16]);
        let c = AudioConfig::of(&entry(b"fLaC", b"dfLa", &dfla)).unwrap();
        assert_eq!((c.codecs.as_str(), c.channels, c.sample_rate), ("flac", 6, 44_100));
    }

    #[test]
    fn missing_or_short_configuration_is_an_error() {
        let bare = AudioSampleEntry::new(FourCC(*b"ac-3"), 2, 48_000);
        assert!(AudioConfig::of(&bare).unwrap_err().0.contains("dac3"));
        assert!(AudioConfig::of(&entry(b"ec-3", b"dec3", &[0x08])).is_err());
        assert!(AudioConfig::of(&entry(b"Opus", b"dOps", &[0])).is_err());
        assert!(AudioConfig::of(&entry(b"fLaC", b"dfLa", &[0, 0, 0, 0, 0x81, 0, 0, 0])).is_err());
        let other = AudioSampleEntry::new(FourCC(*b"enca"), 2, 48_000);
        assert!(AudioConfig::of(&other).unwrap_err().0.contains("AAC, AC-3"));
    }
}
