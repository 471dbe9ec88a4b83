//! ISO base media file format (ISO/IEC 14496-12) boxes: one type per box,
//! parse and write side by side, plus the Common Encryption boxes of
//! ISO/IEC 23001-7 (`sinf`/`schm`/`tenc`, `pssh`, `senc`/`saiz`/`saio`).
//!
//! - Parsing is zero-copy over `&[u8]` with a bounded [`Reader`]: lengths in
//!   the input bound reads, never size an allocation up front; truncated or
//!   oversized boxes, 64-bit sizes and absurd counts are errors, never
//!   panics. Nesting is limited to [`MAX_DEPTH`].
//! - Every typed box implements [`Atom`]; unknown children are kept as
//!   [`RawBox`] so parse → write round-trips (byte for byte for files written
//!   in ffmpeg's box order, see `order.rs`).
//! - No I/O and no cryptography: `mdat` is never read into memory here;
//!   [`write_mdat_header`] writes its header.
//!
//! Files follow the box tree: `moov/trak/mdia/minf/stbl/stsd/avcc.rs`,
//! `moof/traf/trun.rs`.

mod atom;
mod error;
mod fourcc;
mod ftyp;
mod header;
pub mod moof;
pub mod moov;
mod order;
mod pssh;
mod raw;
mod reader;
pub mod sample_table;
mod sidx;

pub use atom::Atom;
pub use error::{Error, Result};
pub use fourcc::FourCC;
pub use ftyp::{Ftyp, Styp};
pub use header::{BoxHeader, iter_boxes, write_box, write_mdat_header};
pub use pssh::Pssh;
pub use raw::RawBox;
pub use reader::{MAX_DEPTH, MAX_SYNTHETIC_RECORDS, Put, Reader};
pub use sidx::{Sidx, SidxReference};

pub use moof::Moof;
pub use moof::mfhd::Mfhd;
pub use moof::traf::Traf;
pub use moof::traf::saiz::{Saio, Saiz};
pub use moof::traf::senc::{Senc, SencSample, Subsample};
pub use moof::traf::tfdt::Tfdt;
pub use moof::traf::tfhd::Tfhd;
pub use moof::traf::trun::{Trun, TrunSample};

pub use moov::Moov;
pub use moov::mvex::Mvex;
pub use moov::mvex::mehd::Mehd;
pub use moov::mvex::trex::Trex;
pub use moov::mvhd::Mvhd;
pub use moov::trak::Trak;
pub use moov::trak::edts::Edts;
pub use moov::trak::edts::elst::{Elst, ElstEntry};
pub use moov::trak::mdia::Mdia;
pub use moov::trak::mdia::hdlr::Hdlr;
pub use moov::trak::mdia::mdhd::Mdhd;
pub use moov::trak::mdia::minf::Minf;
pub use moov::trak::mdia::minf::dinf::{Dinf, Dref};
pub use moov::trak::mdia::minf::stbl::Stbl;
pub use moov::trak::mdia::minf::stbl::ctts::Ctts;
pub use moov::trak::mdia::minf::stbl::stco::{Co64, Stco};
pub use moov::trak::mdia::minf::stbl::stsc::{Stsc, StscEntry};
pub use moov::trak::mdia::minf::stbl::stsd::audio::AudioSampleEntry;
pub use moov::trak::mdia::minf::stbl::stsd::avcc::AvcC;
pub use moov::trak::mdia::minf::stbl::stsd::esds::Esds;
pub use moov::trak::mdia::minf::stbl::stsd::hvcc::{HvcC, HvcCArray};
pub use moov::trak::mdia::minf::stbl::stsd::sinf::frma::Frma;
pub use moov::trak::mdia::minf::stbl::stsd::sinf::schm::Schm;
pub use moov::trak::mdia::minf::stbl::stsd::sinf::tenc::Tenc;
pub use moov::trak::mdia::minf::stbl::stsd::sinf::{Schi, Sinf};
pub use moov::trak::mdia::minf::stbl::stsd::visual::VisualSampleEntry;
pub use moov::trak::mdia::minf::stbl::stsd::{SampleEntry, Stsd};
pub use moov::trak::mdia::minf::stbl::stss::Stss;
pub use moov::trak::mdia::minf::stbl::stsz::{Stsz, Stz2};
pub use moov::trak::mdia::minf::stbl::stts::Stts;
pub use moov::trak::mdia::minf::vmhd::{Smhd, Vmhd};
pub use moov::trak::tkhd::Tkhd;
