//! Four-character codes (ISO/IEC 14496-12 §4.2: `unsigned int(32) type`),
//! shown as text when printable so errors and debug output read like a box dump.

use std::fmt;

/// A box type or brand: four bytes, usually ASCII.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FourCC(pub [u8; 4]);

macro_rules! fourcc_consts {
    ($($name:ident = $s:literal),* $(,)?) => {
        impl FourCC { $(#[allow(missing_docs)] pub const $name: FourCC = FourCC(*$s);)* }
    };
}

fourcc_consts! {
    FTYP = b"ftyp", STYP = b"styp", MOOV = b"moov", MVHD = b"mvhd", TRAK = b"trak", TKHD = b"tkhd",
    EDTS = b"edts", ELST = b"elst", MDIA = b"mdia", MDHD = b"mdhd", HDLR = b"hdlr", MINF = b"minf",
    VMHD = b"vmhd", SMHD = b"smhd", DINF = b"dinf", DREF = b"dref", STBL = b"stbl", STSD = b"stsd",
    STTS = b"stts", CTTS = b"ctts", STSC = b"stsc", STSZ = b"stsz", STZ2 = b"stz2", STCO = b"stco",
    CO64 = b"co64", STSS = b"stss", AVC1 = b"avc1", AVC3 = b"avc3", HVC1 = b"hvc1", HEV1 = b"hev1",
    ENCV = b"encv", MP4A = b"mp4a", ENCA = b"enca", AVCC = b"avcC", HVCC = b"hvcC", ESDS = b"esds",
    SINF = b"sinf", FRMA = b"frma", SCHM = b"schm", SCHI = b"schi", TENC = b"tenc", PSSH = b"pssh",
    MVEX = b"mvex", MEHD = b"mehd", TREX = b"trex", MOOF = b"moof", MFHD = b"mfhd", TRAF = b"traf",
    TFHD = b"tfhd", TFDT = b"tfdt", TRUN = b"trun", SENC = b"senc", SAIZ = b"saiz", SAIO = b"saio",
    SIDX = b"sidx", MDAT = b"mdat", UUID = b"uuid", UDTA = b"udta", META = b"meta", FREE = b"free",
    SKIP = b"skip", SDTP = b"sdtp", SGPD = b"sgpd", SBGP = b"sbgp", CENC = b"cenc", CBCS = b"cbcs",
}

impl FourCC {
    /// Placeholder used by a [`crate::Reader`] that is not reading a known box.
    pub const UNKNOWN: FourCC = FourCC(*b"????");

    /// The four bytes as text, `\xNN` escapes for non-printable bytes.
    fn write_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if (0x20..0x7f).contains(&b) {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl From<[u8; 4]> for FourCC {
    fn from(b: [u8; 4]) -> Self {
        FourCC(b)
    }
}

impl From<&[u8; 4]> for FourCC {
    fn from(b: &[u8; 4]) -> Self {
        FourCC(*b)
    }
}

impl From<u32> for FourCC {
    fn from(v: u32) -> Self {
        FourCC(v.to_be_bytes())
    }
}

impl From<FourCC> for u32 {
    fn from(f: FourCC) -> u32 {
        u32::from_be_bytes(f.0)
    }
}

impl PartialEq<&[u8; 4]> for FourCC {
    fn eq(&self, other: &&[u8; 4]) -> bool {
        &self.0 == *other
    }
}

impl fmt::Display for FourCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_text(f)
    }
}

impl fmt::Debug for FourCC {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FourCC(\"")?;
        self.write_text(f)?;
        f.write_str("\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_text_and_escapes() {
        assert_eq!(FourCC::AVC1.to_string(), "avc1");
        assert_eq!(format!("{:?}", FourCC(*b"ab\x00c")), "FourCC(\"ab\\x00c\")");
        assert_eq!(u32::from(FourCC::MOOV), 0x6d6f_6f76);
        assert_eq!(FourCC::from(0x6d6f_6f76), FourCC::MOOV);
        assert!(FourCC::MOOV == b"moov");
    }
}
