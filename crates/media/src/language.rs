//! Language tags for manifests: DASH `@lang` and HLS `LANGUAGE` want BCP 47
//! (RFC 5646), whose rule is the shortest ISO 639 code (§2.2.1: "en", not
//! "eng"), while MP4 stores three letters in `mdhd` (ISO/IEC 14496-12
//! §8.4.2.3: ISO 639-2/T; some muxers write the /B form, "fre", "ger").
//! `und` (undetermined) is left out of manifests altogether.

/// The twenty ISO 639-2 bibliographic codes that differ from the
/// terminology (ISO 639-3) ones.
const BIBLIOGRAPHIC: [(&str, &str); 20] = [
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
];

/// The BCP 47 tag of an `mdhd` language: the two-letter ISO 639-1 code
/// where the language has one, else the three-letter code. `None` for
/// `und`, and for anything that is not an ISO 639 code.
pub fn bcp47(mdhd_language: &str) -> Option<String> {
    let code = mdhd_language.trim();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_lowercase()) || code == "und" {
        return None;
    }
    let code = BIBLIOGRAPHIC.iter().find(|(b, _)| *b == code).map_or(code, |(_, t)| t);
    let lang = isolang::Language::from_639_3(code)?;
    Some(lang.to_639_1().unwrap_or(code).to_owned())
}

/// A language tag as a user gives it (`--text en=...`, the API): BCP 47
/// with a primary language that is an ISO 639 code, two or three letters
/// in any case, and optional subtags (region `BR`, script `Latn`: 2–8
/// letters or digits each). Returns the canonical tag: the shortest code
/// (`fra` → `fr`), lower-case language, upper-case two-letter region
/// (`pt-br` → `pt-BR`). `None` for anything else, `und` included.
pub fn parse_tag(tag: &str) -> Option<String> {
    let mut parts = tag.split('-');
    let primary = parts.next()?.to_ascii_lowercase();
    let primary = match primary.len() {
        2 => isolang::Language::from_639_1(&primary).map(|_| primary)?,
        3 => bcp47(&primary)?,
        _ => return None,
    };
    let mut out = primary;
    for sub in parts {
        if !(2..=8).contains(&sub.len()) || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        out.push('-');
        if sub.len() == 2 && sub.bytes().all(|b| b.is_ascii_alphabetic()) {
            out.push_str(&sub.to_ascii_uppercase());
        } else if sub.len() == 4 && sub.bytes().all(|b| b.is_ascii_alphabetic()) {
            // Script: title case (`Latn`).
            out.push_str(&sub[..1].to_ascii_uppercase());
            out.push_str(&sub[1..].to_ascii_lowercase());
        } else {
            out.push_str(&sub.to_ascii_lowercase());
        }
    }
    Some(out)
}

/// An English name for a BCP 47 tag made by [`bcp47`] (HLS `NAME`), or the
/// tag itself.
pub fn display_name(tag: &str) -> String {
    let primary = tag.split('-').next().unwrap_or(tag);
    let lang = match primary.len() {
        2 => isolang::Language::from_639_1(primary),
        _ => isolang::Language::from_639_3(primary),
    };
    lang.map_or_else(|| tag.to_owned(), |l| l.to_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tags() {
        for (given, want) in [
            ("en", Some("en")),
            ("EN", Some("en")),
            ("fra", Some("fr")),
            ("pt-br", Some("pt-BR")),
            ("zh-hant", Some("zh-Hant")),
            ("es-419", Some("es-419")),
            ("yue", Some("yue")),
            ("und", None),
            ("zz", None),
            ("english", None),
            ("en-", None),
            ("en-a\"b", None),
            ("", None),
        ] {
            assert_eq!(parse_tag(given).as_deref(), want, "{given:?}");
        }
    }

    #[test]
    fn shortest_codes() {
        for (mdhd, want) in [
            ("eng", Some("en")),
            ("fra", Some("fr")),
            ("fre", Some("fr")),
            ("ger", Some("de")),
            ("deu", Some("de")),
            ("chi", Some("zh")),
            ("por", Some("pt")),
            // No ISO 639-1 code: the three letters are the BCP 47 tag.
            ("yue", Some("yue")),
            ("und", None),
            ("", None),
            ("en", None),
            ("ENG", None),
            ("zzq", None),
            ("e\u{301}n", None),
        ] {
            assert_eq!(bcp47(mdhd).as_deref(), want, "{mdhd:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(display_name("en"), "English");
        assert_eq!(display_name("fr"), "French");
        assert_eq!(display_name("yue"), "Yue Chinese");
        assert_eq!(display_name("x-custom"), "x-custom");
    }
}
