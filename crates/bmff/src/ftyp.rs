//! `ftyp` (ISO/IEC 14496-12 §4.3) and `styp` (§8.16.2): brands a file or a
//! segment conforms to. Same layout, two box types.

use crate::atom::Atom;
use crate::reader::Put;
use crate::{Error, FourCC, Reader, Result};

macro_rules! brand_box {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// Best-use brand.
            pub major_brand: FourCC,
            /// Minor version of the major brand.
            pub minor_version: u32,
            /// Every brand the content conforms to.
            pub compatible_brands: Vec<FourCC>,
        }

        impl Atom for $name {
            const KIND: FourCC = $kind;

            fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
                let major_brand = r.fourcc()?;
                let minor_version = r.u32()?;
                if r.remaining() % 4 != 0 {
                    return Err(Error::Invalid { kind: Self::KIND, field: "compatible_brands" });
                }
                let mut compatible_brands = Vec::with_capacity(r.capacity_for(u64::MAX, 4));
                while !r.is_empty() {
                    compatible_brands.push(r.fourcc()?);
                }
                Ok($name { major_brand, minor_version, compatible_brands })
            }

            fn encode_body(&self, out: &mut Vec<u8>) -> Result<()> {
                out.put_fourcc(self.major_brand);
                out.put_u32(self.minor_version);
                for b in &self.compatible_brands {
                    out.put_fourcc(*b);
                }
                Ok(())
            }
        }
    };
}

brand_box!(
    /// File type box.
    Ftyp,
    FourCC::FTYP
);
brand_box!(
    /// Segment type box.
    Styp,
    FourCC::STYP
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atom::testutil::*;

    #[test]
    fn ftyp_roundtrip() {
        let f = Ftyp {
            major_brand: FourCC(*b"isom"),
            minor_version: 512,
            compatible_brands: vec![
                FourCC(*b"isom"),
                FourCC(*b"iso2"),
                FourCC(*b"avc1"),
                FourCC(*b"mp41"),
            ],
        };
        let b = roundtrip(&f);
        assert_eq!(&b[..12], b"\0\0\0\x20ftypisom");
        truncations_fail::<Ftyp>(&b[..16]);
        roundtrip(&Styp {
            major_brand: FourCC(*b"msdh"),
            minor_version: 0,
            compatible_brands: vec![],
        });
        assert!(matches!(Styp::decode(&b), Err(Error::WrongKind { .. })));
    }

    #[test]
    fn partial_brand_is_an_error() {
        let buf = b"\0\0\0\x12ftypisom\0\0\0\0ab";
        assert!(matches!(Ftyp::decode(buf), Err(Error::Invalid { .. })));
    }
}
