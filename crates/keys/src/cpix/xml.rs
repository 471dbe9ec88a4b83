//! A small, bounded element tree over quick-xml for CPIX documents.
//!
//! CPIX documents are small (a few keys and their signalling), so the
//! reader builds the whole tree once and [`super::read`] walks it; that
//! keeps the CPIX rules (which child where, which attribute) apart from the
//! XML rules enforced here, for hostile input:
//! - no DOCTYPE at all: no DTD, so no entity can be declared, expanded or
//!   fetched (the "billion laughs" and XXE attacks need one); a reference
//!   to anything but the five predefined entities and character references
//!   is refused;
//! - UTF-8 only (a UTF-8 byte order mark is skipped); another declared
//!   encoding is refused by name;
//! - bounded: bytes ([`MAX_DOCUMENT_BYTES`]), elements ([`MAX_ELEMENTS`]),
//!   depth ([`MAX_DEPTH`]), attributes per element ([`MAX_ATTRIBUTES`]);
//!   a document over a bound is refused, never truncated.

use super::CpixError;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Largest CPIX document read: a thousand keys with their signalling fit
/// in well under a megabyte.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// Most elements in one document.
pub const MAX_ELEMENTS: usize = 100_000;
/// Deepest nesting (a CPIX document needs 8: CPIX, ContentKeyList,
/// ContentKey, Data, Secret, EncryptedValue, CipherData, CipherValue; a
/// signature's KeyInfo a few more).
pub const MAX_DEPTH: usize = 24;
/// Most attributes on one element.
pub const MAX_ATTRIBUTES: usize = 64;

/// One element: its namespace URI and local name, its unprefixed
/// attributes, its child elements and its own text (the concatenation of
/// its direct text and CDATA nodes).
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The children named `name` in `ns`.
    pub fn all<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The first child named `name` in `ns`.
    pub fn first(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }
}

fn malformed(r: &NsReader<&[u8]>, reason: impl std::fmt::Display) -> CpixError {
    CpixError::Malformed {
        offset: r.buffer_position(),
        reason: reason.to_string(),
    }
}

/// Parses `bytes` into the root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element, CpixError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(CpixError::TooLarge {
            max: MAX_DOCUMENT_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(CpixError::Encoding("UTF-16".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| CpixError::Malformed {
        offset: e.valid_up_to() as u64,
        reason: "not UTF-8".into(),
    })?;
    let mut r = NsReader::from_str(text);
    r.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = r.read_resolved_event().map_err(|e| CpixError::Malformed {
            offset: 0,
            reason: e.to_string(),
        })?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(AsRef::<str>::as_ref(&n).to_owned()),
            ResolveResult::Unbound => Some(String::new()),
            ResolveResult::Unknown(p) => {
                return Err(malformed(
                    &r,
                    format!("unknown namespace prefix '{}'", AsRef::<str>::as_ref(&p)),
                ));
            }
        };
        match event {
            Event::DocType(_) => return Err(CpixError::Doctype),
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = AsRef::<str>::as_ref(&enc).to_owned();
                    if !enc.eq_ignore_ascii_case("utf-8") {
                        return Err(CpixError::Encoding(enc));
                    }
                }
            }
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(malformed(&r, "content after the root element"));
            }
            Event::Start(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(CpixError::TooMany {
                        element: "elements".into(),
                        max: MAX_ELEMENTS,
                    });
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(CpixError::TooDeep { max: MAX_DEPTH });
                }
                stack.push(element(&r, ns.unwrap_or_default(), &e)?);
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(CpixError::TooMany {
                        element: "elements".into(),
                        max: MAX_ELEMENTS,
                    });
                }
                let el = element(&r, ns.unwrap_or_default(), &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(malformed(&r, "end tag without a start tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => match stack.last_mut() {
                Some(el) => el.text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
                None if t.xml_content(XmlVersion::Implicit1_0).trim().is_empty() => {}
                None => return Err(malformed(&r, "text outside the root element")),
            },
            Event::CData(c) => match stack.last_mut() {
                Some(el) => el.text.push_str(&c.xml_content(XmlVersion::Implicit1_0)),
                None => return Err(malformed(&r, "CDATA outside the root element")),
            },
            Event::GeneralRef(g) => {
                let c = match g.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        let name: &str = g.as_ref();
                        predefined_entity(name)
                            .ok_or_else(|| CpixError::Entity(name.chars().take(64).collect()))?
                    }
                    Err(e) => return Err(malformed(&r, e)),
                };
                match stack.last_mut() {
                    Some(el) => el.text.push(c),
                    None => return Err(malformed(&r, "reference outside the root element")),
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed(&r, "the document ends inside an element"));
    }
    root.ok_or_else(|| malformed(&r, "no root element"))
}

/// The character of one of XML's five predefined entities.
pub(crate) fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

fn element(r: &NsReader<&[u8]>, ns: String, e: &BytesStart<'_>) -> Result<Element, CpixError> {
    let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| malformed(r, err))?;
        let key: &str = a.key.as_ref();
        // Namespace declarations are the resolver's business; prefixed
        // attributes (xsi:..., xml:...) mean nothing to CPIX.
        if key == "xmlns" || key.contains(':') {
            continue;
        }
        if attrs.len() >= MAX_ATTRIBUTES {
            return Err(CpixError::TooMany {
                element: format!("{name} attributes"),
                max: MAX_ATTRIBUTES,
            });
        }
        let value =
            a.normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| match err {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, ent),
                    ) => CpixError::Entity(ent.chars().take(64).collect()),
                    other => malformed(r, other),
                })?
                .into_owned();
        let k = key.to_owned();
        if attrs.iter().any(|(o, _)| *o == k) {
            return Err(malformed(r, format!("{name}: attribute {k} given twice")));
        }
        attrs.push((k, value));
    }
    Ok(Element {
        ns,
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctype_and_entities_are_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE CPIX [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><CPIX xmlns="urn:dashif:org:cpix">&x;</CPIX>"#;
        assert!(matches!(parse(xxe), Err(CpixError::Doctype)));
        let undeclared = br#"<CPIX xmlns="urn:dashif:org:cpix">&x;</CPIX>"#;
        assert!(matches!(parse(undeclared), Err(CpixError::Entity(e)) if e == "x"));
        let in_attr = br#"<CPIX xmlns="urn:dashif:org:cpix" contentId="&x;"/>"#;
        assert!(
            matches!(parse(in_attr), Err(CpixError::Entity(_))),
            "{:?}",
            parse(in_attr)
        );
        let ok =
            parse(br#"<CPIX xmlns="urn:dashif:org:cpix" contentId="a&amp;b">&#65;&lt;</CPIX>"#)
                .unwrap();
        assert_eq!(ok.attr("contentId"), Some("a&b"));
        assert_eq!(ok.text, "A<");
    }

    #[test]
    fn bounds_and_malformed_input() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(CpixError::TooDeep { .. })
        ));
        assert!(matches!(
            parse(b"<a><b></a>"),
            Err(CpixError::Malformed { .. })
        ));
        assert!(matches!(parse(b"<a>"), Err(CpixError::Malformed { .. })));
        assert!(matches!(parse(b""), Err(CpixError::Malformed { .. })));
        assert!(matches!(
            parse(b"<a/><b/>"),
            Err(CpixError::Malformed { .. })
        ));
        assert!(matches!(parse(b"<p:a/>"), Err(CpixError::Malformed { .. })));
        assert!(matches!(
            parse(b"\xFF\xFE<\x00"),
            Err(CpixError::Encoding(_))
        ));
        assert!(matches!(
            parse(br#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#),
            Err(CpixError::Encoding(e)) if e == "ISO-8859-1"
        ));
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(parse(&big), Err(CpixError::TooLarge { .. })));
    }
}
