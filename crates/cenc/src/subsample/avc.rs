//! H.264 (ISO/IEC 14496-10 §7.3): NAL unit header of 1 byte; VCL NAL unit types 1 (non-IDR
//! slice) and 5 (IDR slice) carry a slice header (§7.3.3) that stays clear. Types 2-4
//! (data partitioning, Extended profile) and 20/21 (SVC/MVC/3D extensions) are VCL too but
//! not supported: they are refused rather than guessed.

use std::borrow::Cow;
use std::io::Cursor;

use cros_codecs::codec::h264::nalu::Header;
use cros_codecs::codec::h264::parser::{Nalu, NaluHeader, Parser};

use super::{NalCodec, NalRole, guarded};
use crate::{Error, Result};

pub(super) struct Avc;

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
    nal.first().map_or(0, |b| b & 0x1f)
}

impl NalCodec for Avc {
    const NAME: &'static str = "H.264";
    const HEADER_LEN: usize = 1;
    type Parser = Parser;

    fn role(nal: &[u8], offset: usize) -> Result<NalRole> {
        match nal_type(nal) {
            1 | 5 => Ok(NalRole::Slice),
            7 | 8 => Ok(NalRole::ParamSet),
            t @ (2..=4 | 20 | 21) => Err(Error::UnsupportedNal {
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
        let kind = if t == 7 { "SPS" } else { "PPS" };
        guarded(|| {
            let n = nalu(nal)?;
            match t {
                7 => parser.parse_sps(&n).map(|s| (0, s.seq_parameter_set_id)),
                8 => parser.parse_pps(&n).map(|p| (1, p.pic_parameter_set_id)),
                other => Err(format!("NAL unit type {other} is not a parameter set")),
            }
        })
        .map_err(|reason| Error::ParameterSet {
            codec: Self::NAME,
            kind,
            reason,
        })
    }

    fn slice_header_len(parser: &mut Parser, nal: &[u8], offset: usize) -> Result<usize> {
        let parser = &*parser;
        guarded(|| {
            let slice = parser.parse_slice_header(nalu(nal)?)?;
            // header_bit_size counts the NAL header byte and the RBSP bits of the slice
            // header, without emulation prevention bytes; those are added back as bytes.
            Ok(
                slice.header.header_bit_size.div_ceil(8)
                    + slice.header.n_emulation_prevention_bytes,
            )
        })
        .map_err(|reason| Error::SliceHeader {
            codec: Self::NAME,
            nal_type: nal_type(nal),
            offset,
            reason,
        })
    }
}
