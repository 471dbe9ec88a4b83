//! DASH-IF CPIX documents through [`keys::cpix::Document::parse`], with the
//! DASH-IF test recipient's key (Cert1) so that encrypted values reach the
//! MAC and AES code: no panic on any input (DOCTYPEs, entities, deep or
//! huge trees are refused, not expanded). A document that parses is
//! written and read again; after one such normalisation (characters XML
//! cannot carry become U+FFFD) write and read are stable.
#![no_main]

use keys::cpix::{Document, RecipientKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn recipient() -> &'static RecipientKey {
    static KEY: OnceLock<RecipientKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RecipientKey::from_pkcs8(include_bytes!("../../tests/cpix/Cert1.key.pem"))
            .expect("Cert1 key")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse(data, Some(recipient())) else {
        return;
    };
    let xml = doc.to_xml(None).expect("writing a parsed document");
    let once = Document::parse(xml.as_bytes(), None).expect("reading our own document");
    let again = once.to_xml(None).expect("writing it again");
    let twice = Document::parse(again.as_bytes(), None).expect("reading it again");
    assert_eq!(once, twice, "write/read is not stable");
});
