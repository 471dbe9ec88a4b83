//! `esds` (ISO/IEC 14496-14 §5.6): a full box around an MPEG-4 Systems
//! ES_Descriptor (ISO/IEC 14496-1 §7.2.6.5), which holds the
//! DecoderConfigDescriptor (§7.2.6.6: object type, bitrates) and its
//! DecoderSpecificInfo (for AAC, the AudioSpecificConfig).
//!
//! The descriptor bytes are kept verbatim (writers differ in how they code
//! descriptor lengths), and the accessors parse them on demand with the same
//! bounded reader, so a malformed descriptor makes an accessor return `None`
//! rather than failing the whole `moov`.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{FourCC, Reader, Result};

const ES_DESCR_TAG: u8 = 0x03;
const DECODER_CONFIG_DESCR_TAG: u8 = 0x04;
const DEC_SPECIFIC_INFO_TAG: u8 = 0x05;
const SL_CONFIG_DESCR_TAG: u8 = 0x06;

/// Elementary stream descriptor box.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Esds {
    pub version: u8,
    pub flags: u32,
    /// The descriptors after the full-box header, verbatim.
    pub descriptors: Vec<u8>,
}

impl std::fmt::Debug for Esds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Esds")
            .field("object_type_indication", &self.object_type_indication())
            .field("max_bitrate", &self.max_bitrate())
            .field("avg_bitrate", &self.avg_bitrate())
            .field("decoder_specific_info", &self.decoder_specific_info())
            .field("descriptors_len", &self.descriptors.len())
            .finish()
    }
}

/// The parsed fields of a DecoderConfigDescriptor.
struct DecoderConfig<'a> {
    object_type_indication: u8,
    max_bitrate: u32,
    avg_bitrate: u32,
    dsi: Option<&'a [u8]>,
}

/// Reads a descriptor tag and its expandable size (§8.3.3: up to four
/// bytes of 7 bits, high bit = more), and returns a reader over its body.
fn descriptor<'a>(r: &mut Reader<'a>) -> Option<(u8, Reader<'a>)> {
    let tag = r.u8().ok()?;
    let mut size: usize = 0;
    for _ in 0..4 {
        let b = r.u8().ok()?;
        size = (size << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some((tag, r.sub(size).ok()?));
        }
    }
    None
}

fn put_descriptor(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    // Four-byte size form, as ffmpeg and most packagers write it.
    let size = body.len() as u32;
    out.put_u8(tag);
    out.put_u8(0x80 | ((size >> 21) & 0x7f) as u8);
    out.put_u8(0x80 | ((size >> 14) & 0x7f) as u8);
    out.put_u8(0x80 | ((size >> 7) & 0x7f) as u8);
    out.put_u8((size & 0x7f) as u8);
    out.extend_from_slice(body);
}

impl Esds {
    /// A standard ES_Descriptor for an audio stream: ES_ID 0, stream type
    /// audio (5), buffer size 0, the given object type (0x40 = MPEG-4
    /// audio / AAC), bitrates and DecoderSpecificInfo (AudioSpecificConfig),
    /// SLConfigDescriptor predefined = 2 (MP4).
    pub fn new(object_type_indication: u8, max_bitrate: u32, avg_bitrate: u32, dsi: &[u8]) -> Esds {
        let mut dcd = vec![object_type_indication, (0x05 << 2) | 1, 0, 0, 0];
        dcd.put_u32(max_bitrate);
        dcd.put_u32(avg_bitrate);
        put_descriptor(&mut dcd, DEC_SPECIFIC_INFO_TAG, dsi);
        let mut es = vec![0, 0, 0];
        put_descriptor(&mut es, DECODER_CONFIG_DESCR_TAG, &dcd);
        put_descriptor(&mut es, SL_CONFIG_DESCR_TAG, &[0x02]);
        let mut descriptors = Vec::new();
        put_descriptor(&mut descriptors, ES_DESCR_TAG, &es);
        Esds {
            version: 0,
            flags: 0,
            descriptors,
        }
    }

    fn decoder_config(&self) -> Option<DecoderConfig<'_>> {
        let mut r = Reader::for_box(FourCC::ESDS, &self.descriptors);
        let (tag, mut es) = descriptor(&mut r)?;
        if tag != ES_DESCR_TAG {
            return None;
        }
        es.u16().ok()?;
        let flags = es.u8().ok()?;
        if flags & 0x80 != 0 {
            es.u16().ok()?;
        }
        if flags & 0x40 != 0 {
            let len = es.u8().ok()?;
            es.skip(usize::from(len)).ok()?;
        }
        if flags & 0x20 != 0 {
            es.u16().ok()?;
        }
        while !es.is_empty() {
            let (tag, mut d) = descriptor(&mut es)?;
            if tag != DECODER_CONFIG_DESCR_TAG {
                continue;
            }
            let object_type_indication = d.u8().ok()?;
            d.skip(4).ok()?;
            let max_bitrate = d.u32().ok()?;
            let avg_bitrate = d.u32().ok()?;
            let mut dsi = None;
            while !d.is_empty() {
                let (tag, mut body) = descriptor(&mut d)?;
                if tag == DEC_SPECIFIC_INFO_TAG {
                    dsi = Some(body.rest());
                    break;
                }
            }
            return Some(DecoderConfig {
                object_type_indication,
                max_bitrate,
                avg_bitrate,
                dsi,
            });
        }
        None
    }

    /// objectTypeIndication (0x40 = MPEG-4 Audio, 0x6B = MP3, ...).
    pub fn object_type_indication(&self) -> Option<u8> {
        self.decoder_config().map(|c| c.object_type_indication)
    }

    /// The DecoderSpecificInfo bytes (for AAC, the AudioSpecificConfig).
    pub fn decoder_specific_info(&self) -> Option<&[u8]> {
        self.decoder_config().and_then(|c| c.dsi)
    }

    /// maxBitrate in bits per second.
    pub fn max_bitrate(&self) -> Option<u32> {
        self.decoder_config().map(|c| c.max_bitrate)
    }

    /// avgBitrate in bits per second (0 for variable).
    pub fn avg_bitrate(&self) -> Option<u32> {
        self.decoder_config().map(|c| c.avg_bitrate)
    }
}

impl Atom for Esds {
    const KIND: FourCC = FourCC::ESDS;

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let (version, flags) = r.full_header()?;
        Ok(Esds {
            version,
            flags,
            descriptors: r.rest().to_vec(),
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
        out.put_full(self.version, self.flags);
        out.extend_from_slice(&self.descriptors);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn built_esds_parses() {
        let e = Esds::new(0x40, 130_000, 128_000, &[0x11, 0x90]);
        assert_eq!(e.object_type_indication(), Some(0x40));
        assert_eq!(e.decoder_specific_info(), Some(&[0x11, 0x90][..]));
        assert_eq!(e.max_bitrate(), Some(130_000));
        assert_eq!(e.avg_bitrate(), Some(128_000));
        assert_eq!(roundtrip(&e).len(), 51);
    }

    #[test]
    fn matches_ffmpeg_layout() {
        // The esds ffmpeg 5.1 wrote for 48 kHz stereo AAC-LC (track 2).
        let ffmpeg = b"\0\0\0\x36esds\0\0\0\0\x03\x80\x80\x80\x25\0\x02\0\x04\x80\x80\x80\x17\x40\x15\0\0\0\0\x01\x11\x31\0\x01\x11\x31\x05\x80\x80\x80\x05\x11\x88\x56\xe5\0\x06\x80\x80\x80\x01\x02";
        let d = Esds::decode(ffmpeg).unwrap();
        assert_eq!(d.object_type_indication(), Some(0x40));
        assert_eq!(d.max_bitrate(), Some(0x11131));
        assert_eq!(d.avg_bitrate(), Some(0x11131));
        assert_eq!(
            d.decoder_specific_info(),
            Some(&[0x11, 0x88, 0x56, 0xe5, 0][..])
        );
        assert_eq!(d.to_bytes().unwrap(), ffmpeg);
        // Our constructor gives the same bytes but for ES_ID (0 here, the track ID there).
        let mut ours = Esds::new(0x40, 0x11131, 0x11131, &[0x11, 0x88, 0x56, 0xe5, 0])
            .to_bytes()
            .unwrap();
        ours[18] = 2;
        assert_eq!(ours, ffmpeg);
    }

    #[test]
    fn short_length_form_and_garbage() {
        // One-byte descriptor lengths, as some encoders write them.
        let d = vec![
            0x03, 0x19, 0, 1, 0, //
            0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x0f, 0, //
            0x05, 0x02, 0x12, 0x10, //
            0x06, 0x01, 0x02,
        ];
        let e = Esds {
            version: 0,
            flags: 0,
            descriptors: d,
        };
        assert_eq!(e.decoder_specific_info(), Some(&[0x12, 0x10][..]));
        assert_eq!(e.max_bitrate(), Some(0x1000));
        assert_eq!(e.avg_bitrate(), Some(0x0f00));
        roundtrip(&e);
        for n in 0..e.descriptors.len() {
            let t = Esds {
                descriptors: e.descriptors[..n].to_vec(),
                ..e.clone()
            };
            // A cut ES_Descriptor: every accessor says None, none panics.
            let _ = (t.object_type_indication(), t.decoder_specific_info());
            assert!(t.decoder_specific_info().is_none());
        }
        let junk = Esds {
            version: 0,
            flags: 0,
            descriptors: vec![0x03, 0xff, 0xff, 0xff, 0xff, 0x7f],
        };
        assert_eq!(junk.object_type_indication(), None);
    }
}
