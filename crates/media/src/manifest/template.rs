//! DASH segment URL templates (ISO/IEC 23009-1 §5.3.9.4.4, Table 16):
//! `$Number$`, `$Time$`, `$Bandwidth$` with an optional `%0<width>d` format
//! tag, `$RepresentationID$` and `$$`.
//!
//! Why here: DASH writes the template as is, HLS has no templates and lists
//! every segment URL, so both must agree on what a template means. Parsing
//! once (and refusing what DASH clients would refuse) keeps the two
//! manifests pointing at the same files.

use super::TemplateError;

/// Format widths beyond this are refused: no real packager pads to more
/// digits than a u64 has, and the bound keeps a hostile template from
/// sizing a huge allocation.
const MAX_WIDTH: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    Literal(&'a str),
    Dollar,
    RepresentationId,
    Number { width: usize },
    Time { width: usize },
    Bandwidth { width: usize },
}

pub(crate) fn parse(template: &str) -> Result<Vec<Part<'_>>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = template;
    let mut offset = 0usize;
    while let Some(open) = rest.find('$') {
        if open > 0 {
            parts.push(Part::Literal(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let close = after.find('$').ok_or(TemplateError::Unterminated {
            offset: offset + open,
        })?;
        let ident = &after[..close];
        let at = offset + open;
        let (name, format) = match ident.find('%') {
            Some(p) => (&ident[..p], Some(&ident[p..])),
            None => (ident, None),
        };
        let width = match format {
            None => 1,
            Some(f) => parse_width(f).ok_or(TemplateError::BadFormat { offset: at })?,
        };
        let part = match name {
            "" if format.is_none() => Part::Dollar,
            "RepresentationID" if format.is_none() => Part::RepresentationId,
            "Number" => Part::Number { width },
            "Time" => Part::Time { width },
            "Bandwidth" => Part::Bandwidth { width },
            _ => return Err(TemplateError::UnknownIdentifier { offset: at }),
        };
        parts.push(part);
        let consumed = open + 1 + close + 1;
        rest = &rest[consumed..];
        offset += consumed;
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest));
    }
    Ok(parts)
}

/// `%0<width>d` (the standard's only format tag form, `%0[width]d`).
fn parse_width(f: &str) -> Option<usize> {
    let digits = f.strip_prefix("%0")?.strip_suffix('d')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: usize = digits.parse().ok()?;
    (1..=MAX_WIDTH).contains(&w).then_some(w)
}

/// Values substituted into a template for one segment.
pub(crate) struct Values<'a> {
    pub representation_id: &'a str,
    pub number: u64,
    pub time: u64,
    pub bandwidth: u64,
}

/// Expands a template. An unparsable template is returned unchanged (the
/// writers never fail; [`super::Track::validate`] reports it).
pub(crate) fn expand(template: &str, v: &Values<'_>) -> String {
    let Ok(parts) = parse(template) else {
        return template.to_owned();
    };
    let mut out = String::with_capacity(template.len() + 16);
    for p in parts {
        match p {
            Part::Literal(s) => out.push_str(s),
            Part::Dollar => out.push('$'),
            Part::RepresentationId => out.push_str(v.representation_id),
            Part::Number { width } => out.push_str(&format!("{:0width$}", v.number)),
            Part::Time { width } => out.push_str(&format!("{:0width$}", v.time)),
            Part::Bandwidth { width } => out.push_str(&format!("{:0width$}", v.bandwidth)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(number: u64) -> Values<'static> {
        Values {
            representation_id: "v1",
            number,
            time: 90_000,
            bandwidth: 500_000,
        }
    }

    #[test]
    fn expands_identifiers() {
        assert_eq!(expand("video/$Number$.m4s", &v(7)), "video/7.m4s");
        assert_eq!(expand("$Number%05d$.m4s", &v(7)), "00007.m4s");
        assert_eq!(expand("$Number%02d$", &v(12345)), "12345");
        assert_eq!(
            expand("$RepresentationID$/$Bandwidth$/$Time$-$$.m4s", &v(1)),
            "v1/500000/90000-$.m4s"
        );
        assert_eq!(expand("plain", &v(1)), "plain");
    }

    #[test]
    fn refuses_malformed_templates() {
        assert_eq!(
            parse("a/$Number"),
            Err(TemplateError::Unterminated { offset: 2 })
        );
        assert_eq!(
            parse("a$Foo$"),
            Err(TemplateError::UnknownIdentifier { offset: 1 })
        );
        assert_eq!(
            parse("$Number%5d$"),
            Err(TemplateError::BadFormat { offset: 0 })
        );
        assert_eq!(
            parse("$Number%0999999999d$"),
            Err(TemplateError::BadFormat { offset: 0 })
        );
        assert_eq!(
            parse("$RepresentationID%02d$"),
            Err(TemplateError::UnknownIdentifier { offset: 0 })
        );
        // Unparsable: returned unchanged rather than half expanded.
        assert_eq!(expand("x/$Number", &v(3)), "x/$Number");
    }

    #[test]
    fn multibyte_text_around_identifiers() {
        assert_eq!(expand("é/$Number$/ü", &v(2)), "é/2/ü");
    }
}
