//! Audio sample entries (ISO/IEC 14496-12 §12.2.3): `mp4a` (ISO/IEC
//! 14496-14 §5.6), `ac-3`/`ec-3` (ETSI TS 102 366 Annex F), `Opus`
//! (Encapsulation of Opus in ISOBMFF §4.3), `fLaC` (FLAC in ISOBMFF §3.3.1)
//! and the encrypted `enca` (ISO/IEC 23001-7).
//!
//! The ISO layout is QuickTime's sound description version 0. `.mov` files
//! also carry versions 1 and 2 (QuickTime File Format, "Sound sample
//! description"): version 1 adds 16 bytes of packet sizes after the sample
//! rate, version 2 moves the rate (a float64) and the channel count into 36
//! bytes of its own and writes fixed values in the version 0 fields; both
//! usually put the codec configuration (`esds`) inside a `wave` box. Those
//! fields are kept as read ([`QuickTimeSound`]), so a `.mov` entry writes
//! back unchanged; [`AudioSampleEntry::to_iso`] gives the version 0 entry a
//! CMAF track needs.

use super::esds::Esds;
use super::sinf::Sinf;
use super::{encode_entry_children, entry_rank};
use crate::atom::{Atom, set_once};
use crate::order::sort_other;
use crate::reader::Put;
use crate::{FourCC, RawBox, Reader, Result};

/// An audio sample entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSampleEntry {
    /// `mp4a`, `enca`.
    pub kind: FourCC,
    pub data_reference_index: u16,
    pub channel_count: u16,
    pub sample_size: u16,
    /// 16.16 fixed point as stored (48 kHz = 48000 << 16).
    pub sample_rate: u32,
    pub esds: Option<Esds>,
    pub sinf: Vec<Sinf>,
    /// `btrt`, `chnl`, `dOps`, ... in their order.
    pub other: Vec<RawBox>,
    /// The QuickTime version 1 or 2 fields; `None` for the ISO layout.
    pub quicktime: Option<QuickTimeSound>,
}

/// What a QuickTime version 1 or 2 sound description holds beyond the ISO
/// layout, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickTimeSound {
    /// 1 or 2.
    pub version: u16,
    pub revision: u16,
    pub vendor: [u8; 4],
    /// `compressionID` (-2 for variable-rate compressed audio) and
    /// `packetSize`, where ISO has `pre_defined` and `reserved`.
    pub compression_id: u16,
    pub packet_size: u16,
    /// The fields after the sample rate: 16 bytes in version 1, 36 in
    /// version 2.
    pub extension: Vec<u8>,
}

impl QuickTimeSound {
    fn extension_len(version: u16) -> usize {
        if version == 2 { 36 } else { 16 }
    }

    /// Version 2's `audioSampleRate` (float64) and `numAudioChannels`.
    fn v2_rate_and_channels(&self) -> Option<(f64, u32)> {
        if self.version != 2 {
            return None;
        }
        let rate = f64::from_be_bytes(self.extension.get(4..12)?.try_into().ok()?);
        let channels = u32::from_be_bytes(self.extension.get(12..16)?.try_into().ok()?);
        Some((rate, channels))
    }
}

impl AudioSampleEntry {
    /// An entry with 16-bit samples at `sample_rate` Hz.
    pub fn new(kind: FourCC, channel_count: u16, sample_rate_hz: u16) -> Self {
        AudioSampleEntry {
            kind,
            data_reference_index: 1,
            channel_count,
            sample_size: 16,
            sample_rate: u32::from(sample_rate_hz) << 16,
            esds: None,
            sinf: Vec::new(),
            other: Vec::new(),
            quicktime: None,
        }
    }

    /// True when the entry body is a sound description this type decodes:
    /// QuickTime version 0 (the ISO layout), 1 or 2.
    pub(crate) fn is_known_layout(body: &[u8]) -> bool {
        matches!(body.get(8..10), Some([0, 0..=2]))
    }

    /// Channels as the entry declares them: version 2's
    /// `numAudioChannels`, else `channelcount` (which ISO writers leave at
    /// 2; the codec configuration is the better source).
    pub fn declared_channels(&self) -> u32 {
        match self.quicktime.as_ref().and_then(QuickTimeSound::v2_rate_and_channels) {
            Some((_, channels)) => channels,
            None => u32::from(self.channel_count),
        }
    }

    /// Sample rate in Hz as the entry declares it (version 2's float64,
    /// else the integer part of the 16.16 field).
    pub fn declared_sample_rate(&self) -> u32 {
        match self.quicktime.as_ref().and_then(QuickTimeSound::v2_rate_and_channels) {
            Some((rate, _)) if rate.is_finite() && rate >= 0.0 => rate.round().min(f64::from(u32::MAX)) as u32,
            _ => self.sample_rate >> 16,
        }
    }

    /// The ISO (version 0) form of this entry, for a CMAF track: a
    /// QuickTime version 1 or 2 description gets its channel count and
    /// rate in the version 0 fields (a rate above 65535 Hz, which 16.16
    /// cannot hold, is written as 0: decoders take it from the codec
    /// configuration) and its `esds` out of the `wave` box, which is
    /// dropped. An ISO entry is returned unchanged.
    pub fn to_iso(&self) -> Result<AudioSampleEntry> {
        if self.quicktime.is_none() {
            return Ok(self.clone());
        }
        let mut iso = self.clone();
        iso.quicktime = None;
        iso.channel_count = u16::try_from(self.declared_channels()).unwrap_or(u16::MAX);
        iso.sample_size = if self.sample_size == 0 { 16 } else { self.sample_size };
        let rate = self.declared_sample_rate();
        iso.sample_rate = if rate <= 0xffff { rate << 16 } else { 0 };
        let mut configs = Vec::new();
        iso.other.retain(|b| {
            if b.kind == FourCC(*b"wave") {
                configs.push(b.body.clone());
                false
            } else {
                true
            }
        });
        for wave in configs {
            let mut r = Reader::for_box(FourCC(*b"wave"), &wave);
            while let Some((h, body)) = r.next_box()? {
                match &h.kind.0 {
                    b"esds" if iso.esds.is_none() => iso.esds = Some(Esds::decode_child(&r, body)?),
                    // The codec's own configuration, when a QuickTime
                    // writer put it in `wave` too.
                    b"dac3" | b"dec3" | b"dOps" | b"dfLa" if !iso.other.iter().any(|o| o.kind == h.kind) => {
                        iso.other.push(RawBox::from_parts(&h, body));
                    }
                    _ => {}
                }
            }
        }
        sort_other(&mut iso.other, entry_rank);
        Ok(iso)
    }

    pub(crate) fn decode_body(kind: FourCC, r: &mut Reader<'_>) -> Result<Self> {
        r.skip(6)?;
        let data_reference_index = r.u16()?;
        let version = r.u16()?;
        let revision = r.u16()?;
        let vendor = r.array::<4>()?;
        let channel_count = r.u16()?;
        let sample_size = r.u16()?;
        let compression_id = r.u16()?;
        let packet_size = r.u16()?;
        let sample_rate = r.u32()?;
        let quicktime = if version == 0 {
            None
        } else {
            let extension = r.take(QuickTimeSound::extension_len(version))?.to_vec();
            Some(QuickTimeSound { version, revision, vendor, compression_id, packet_size, extension })
        };
        let mut esds = None;
        let mut sinf = Vec::new();
        let mut other = Vec::new();
        while let Some((h, body)) = r.next_box()? {
            match h.kind {
                Esds::KIND => set_once(&mut esds, kind, h.kind, Esds::decode_child(r, body))?,
                Sinf::KIND => sinf.push(Sinf::decode_child(r, body)?),
                _ => other.push(RawBox::from_parts(&h, body)),
            }
        }
        sort_other(&mut other, entry_rank);
        Ok(AudioSampleEntry {
            kind,
            data_reference_index,
            channel_count,
            sample_size,
            sample_rate,
            esds,
            sinf,
            other,
            quicktime,
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(&[0; 6]);
        out.put_u16(self.data_reference_index);
        match &self.quicktime {
            None => out.extend_from_slice(&[0; 8]),
            Some(q) => {
                out.put_u16(q.version);
                out.put_u16(q.revision);
                out.extend_from_slice(&q.vendor);
            }
        }
        out.put_u16(self.channel_count);
        out.put_u16(self.sample_size);
        match &self.quicktime {
            None => out.put_u32(0),
            Some(q) => {
                out.put_u16(q.compression_id);
                out.put_u16(q.packet_size);
            }
        }
        out.put_u32(self.sample_rate);
        if let Some(q) = &self.quicktime {
            out.extend_from_slice(&q.extension);
        }
        encode_entry_children(
            out,
            |out| match &self.esds {
                Some(e) => e.encode(out),
                None => Ok(()),
            },
            &self.sinf,
            &self.other,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SampleEntry, Stsd};
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn audio_entry_roundtrip() {
        let mut a = AudioSampleEntry::new(FourCC::MP4A, 2, 48000);
        a.esds = Some(Esds::new(0x40, 128_000, 96_000, &[0x11, 0x90]));
        a.other.push(RawBox {
            kind: FourCC(*b"btrt"),
            usertype: None,
            body: vec![0; 12],
        });
        let b = roundtrip(&Stsd {
            entries: vec![SampleEntry::Audio(a)],
        });
        truncations_fail::<Stsd>(&b);
    }

    /// A `.mov` AAC entry as ffmpeg's mov muxer writes it: version 1,
    /// `esds` inside `wave` (with `frma`, an empty `mp4a` and the
    /// terminator), then `chan`.
    fn quicktime_entry(version: u16) -> Vec<u8> {
        let esds = Esds::new(0x40, 128_000, 96_000, &[0x11, 0x88]).to_bytes().unwrap();
        let mut wave = Vec::new();
        wave.extend_from_slice(b"\0\0\0\x0cfrmamp4a\0\0\0\x0cmp4a\0\0\0\0");
        wave.extend_from_slice(&esds);
        wave.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0]);
        let mut body = vec![0, 0, 0, 0, 0, 0, 0, 1];
        body.extend_from_slice(&version.to_be_bytes());
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        if version == 1 {
            body.extend_from_slice(&[0, 1, 0, 16, 0xff, 0xfe, 0, 0, 0xbb, 0x80, 0, 0]);
            body.extend_from_slice(&[0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2]);
        } else {
            body.extend_from_slice(&[0, 3, 0, 16, 0xff, 0xfe, 0, 0, 0, 1, 0, 0]);
            body.extend_from_slice(&72u32.to_be_bytes());
            body.extend_from_slice(&96_000f64.to_be_bytes());
            body.extend_from_slice(&1u32.to_be_bytes());
            body.extend_from_slice(&[0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0]);
        }
        body.extend_from_slice(&((wave.len() + 8) as u32).to_be_bytes());
        body.extend_from_slice(b"wave");
        body.extend_from_slice(&wave);
        body.extend_from_slice(b"\0\0\0\x0cchan\0\0\0\0");
        let mut stsd = b"\0\0\0\0stsd\0\0\0\0\0\0\0\x01".to_vec();
        stsd.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
        stsd.extend_from_slice(b"mp4a");
        stsd.extend_from_slice(&body);
        let len = stsd.len() as u32;
        stsd[..4].copy_from_slice(&len.to_be_bytes());
        stsd
    }

    #[test]
    fn quicktime_v1_sound_decoded_and_kept() {
        let stsd = quicktime_entry(1);
        let d = Stsd::decode(&stsd).unwrap();
        let SampleEntry::Audio(a) = &d.entries[0] else { panic!("not decoded: {:?}", d.entries[0]) };
        assert_eq!(a.quicktime.as_ref().map(|q| q.version), Some(1));
        assert_eq!((a.declared_channels(), a.declared_sample_rate()), (1, 48_000));
        assert!(a.esds.is_none(), "esds is in wave");
        // Written back unchanged.
        assert_eq!(d.to_bytes().unwrap(), stsd);
        truncations_fail::<Stsd>(&stsd);

        let iso = a.to_iso().unwrap();
        assert!(iso.quicktime.is_none());
        assert_eq!(iso.esds.as_ref().and_then(|e| e.decoder_specific_info()), Some(&[0x11, 0x88][..]));
        assert_eq!(iso.other.iter().map(|b| b.kind).collect::<Vec<_>>(), vec![FourCC(*b"chan")]);
        assert_eq!((iso.channel_count, iso.sample_rate), (1, 48_000 << 16));
        roundtrip(&Stsd { entries: vec![SampleEntry::Audio(iso)] });
    }

    #[test]
    fn quicktime_v2_sound_rate_and_channels() {
        let stsd = quicktime_entry(2);
        let d = Stsd::decode(&stsd).unwrap();
        let SampleEntry::Audio(a) = &d.entries[0] else { panic!("not decoded") };
        assert_eq!((a.channel_count, a.declared_channels(), a.declared_sample_rate()), (3, 1, 96_000));
        assert_eq!(d.to_bytes().unwrap(), stsd);
        let iso = a.to_iso().unwrap();
        // 96 kHz does not fit 16.16: left to the decoder configuration.
        assert_eq!((iso.channel_count, iso.sample_rate), (1, 0));
        assert!(iso.esds.is_some());
    }

    #[test]
    fn unknown_sound_version_kept_whole() {
        let mut stsd = quicktime_entry(1);
        stsd[16 + 8 + 9] = 3;
        let d = Stsd::decode(&stsd).unwrap();
        assert!(matches!(&d.entries[0], SampleEntry::Other(o) if o.kind == FourCC::MP4A));
        assert_eq!(d.to_bytes().unwrap(), stsd);
    }
}
