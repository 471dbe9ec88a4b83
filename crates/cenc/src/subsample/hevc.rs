//! H.265 (ITU-T H.265 §7.3): NAL unit header of 2 bytes; VCL NAL unit types 0-9 and 16-21
//! are slice segments whose header (§7.3.6.1, up to and including `byte_alignment()`)
//! stays clear. Reserved VCL types (10-15, 22-31) are refused. VPS (32) is not needed for
//! slice headers; SPS (33) and PPS (34) are parsed (by cros-codecs) and stored. The slice
//! segment header size comes from [`super::hevc_slice`].

use std::borrow::Cow;
use std::io::Cursor;

use cros_codecs::codec::h264::nalu::Header;
use cros_codecs::codec::h265::parser::{Nalu, NaluHeader, Parser};

use super::{NalCodec, NalRole, guarded};
use crate::{Error, Result};

pub(super) struct Hevc;

fn nalu(nal: &[u8]) -> std::result::Result<Nalu<'_>, String> {
    let header = NaluHeader::parse(&mut Cursor::new(nal))?;
    Ok(Nalu {
        header,
        data: Cow::Borrowed(nal),
        size: nal.len(),
        offset: 0,
    })
}

fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| (b >> 1) & 0x3f)
}

impl NalCodec for Hevc {
    const NAME: &'static str = "H.265";
    const HEADER_LEN: usize = 2;
    type Parser = Parser;

    fn role(nal: &[u8], offset: usize) -> Result<NalRole> {
        match nal_type(nal) {
            0..=9 | 16..=21 => Ok(NalRole::Slice),
            33 | 34 => Ok(NalRole::ParamSet),
            t @ (10..=15 | 22..=31) => Err(Error::UnsupportedNal {
                codec: Self::NAME,
                nal_type: t,
                offset,
            }),
            _ => Ok(NalRole::Clear),
        }
    }

    fn new_parser() -> Parser {
        Parser::default()
    }

    fn parse_param_set(parser: &mut Parser, nal: &[u8]) -> Result<(u8, u8)> {
        let t = nal_type(nal);
        let kind = if t == 33 { "SPS" } else { "PPS" };
        guarded(|| {
            let n = nalu(nal)?;
            match t {
                33 => parser.parse_sps(&n).map(|s| (0, s.seq_parameter_set_id)),
                34 => parser.parse_pps(&n).map(|p| (1, p.pic_parameter_set_id)),
                other => Err(format!("NAL unit type {other} is not an SPS or PPS")),
            }
        })
        .map_err(|reason| Error::ParameterSet {
            codec: Self::NAME,
            kind,
            reason,
        })
    }

    fn slice_header_len(parser: &mut Parser, nal: &[u8], offset: usize) -> Result<usize> {
        // Our own walk of the slice segment header (see `hevc_slice`); no cros-codecs call.
        super::hevc_slice::slice_header_len(parser, nal).map_err(|reason| Error::SliceHeader {
            codec: Self::NAME,
            nal_type: nal_type(nal),
            offset,
            reason,
        })
    }
}
