//! ISO base media file format (ISO/IEC 14496-12) boxes: one type per box, parse and write.
