//! The SPEKE v2.0 profile of CPIX 2.3: what a key provider accepts from an
//! encryptor (AWS Elemental MediaPackage, MediaConvert, or any packager
//! that speaks SPEKE) and how it answers.
//! <https://docs.aws.amazon.com/speke/latest/documentation/speke-api-v2.html>
//!
//! A SPEKE request is a CPIX document "without the values": content keys by
//! KID with their `commonEncryptionScheme`, one `DRMSystem` per key and DRM
//! system whose empty children (`PSSH`, `ContentProtectionData`,
//! `HLSSignalingData`, ...) name what the encryptor wants filled, and one
//! usage rule per key whose `intendedTrackType` says which tracks the key
//! is for. The answer is the same document, every element filled (an
//! encryptor stops at an element left empty), keys in the clear or
//! encrypted for the certificate of the request's `DeliveryData`.
//!
//! The encryption contract (SPEKE v2 "Encryption contract"): the track
//! types of the request's keys must be exactly those of one video preset
//! (`PRESET-VIDEO-1` .. `8`) and one audio preset (`PRESET-AUDIO-1` .. `3`),
//! or of one of them with the other `UNENCRYPTED`, or `SHARED`: a single
//! key with track type `ALL`, which cannot be mixed with any other track
//! type. Anything else is refused before a key is made, so an encryptor
//! never encrypts with keys that castguard's usage rules do not describe.

use super::xml::{self, Element};
use super::{CpixError, Document, Filter, NS_CPIX, NS_DSIG, Recipient};
use base64::Engine as _;
use std::fmt::Write as _;
use uuid::Uuid;

/// The `X-Speke-Version` of the requests castguard answers (and of its
/// answers).
pub const SPEKE_VERSION: &str = "2.0";
/// The CPIX version SPEKE v2.0 exchanges.
pub const CPIX_VERSION: &str = "2.3";
/// Most content keys in one request: the largest presets ask for eight
/// (five video, three audio); key rotation asks for a few periods more.
pub const MAX_KEYS: usize = 64;
/// Longest `CPIX@contentId` (MediaPackage allows 256; castguard names the
/// keys it makes after it).
pub const MAX_CONTENT_ID_LEN: usize = 200;

/// DRM system IDs a SPEKE request may name (dashif.org/identifiers).
pub const WIDEVINE: Uuid = Uuid::from_u128(0xedef8ba9_79d6_4ace_a3c8_27dcd51d21ed);
pub const PLAYREADY: Uuid = Uuid::from_u128(0x9a04f079_9840_4286_ab92_e65be0885f95);
pub const FAIRPLAY: Uuid = Uuid::from_u128(0x94ce86fb_07ff_4f43_adb8_93d2fa968ca2);
/// W3C Common PSSH (what Clear Key reads from an init segment).
pub const W3C_COMMON: Uuid = Uuid::from_u128(0x1077efec_c0b2_4d02_ace3_3c1e52e2fb4b);
/// DASH-IF Clear Key (`ContentProtection` with a license URL).
pub const DASHIF_CLEARKEY: Uuid = Uuid::from_u128(0xe2719d58_a985_b3c9_781a_b030af78d30e);
/// DASH-IF "Clear Key AES-128": HLS AES-128 envelope encryption.
pub const CLEARKEY_AES128: Uuid = Uuid::from_u128(0x3ea8778f_7742_4bf9_b18b_e834b2acbd47);
/// AWS's own ID for HLS AES-128 in SPEKE ("Clear Key AES 128").
pub const AWS_CLEARKEY_AES128: Uuid = Uuid::from_u128(0x81376844_f976_481e_a84e_cc25d39b0b33);

/// Whether `system` is HLS AES-128 envelope encryption (by either ID).
pub fn is_aes128(system: Uuid) -> bool {
    system == CLEARKEY_AES128 || system == AWS_CLEARKEY_AES128
}

const VIDEO_PRESETS: [(u8, &[&str]); 8] = [
    (1, &["VIDEO"]),
    (2, &["SD", "HD"]),
    (3, &["SD", "HD", "UHD"]),
    (4, &["SD", "HD", "UHD1", "UHD2"]),
    (5, &["SD", "HD1", "HD2", "UHD1", "UHD2"]),
    (6, &["SD", "HD1", "HD2", "UHD"]),
    (7, &["SD+HD1", "HD2", "UHD"]),
    (8, &["SD+HD1", "HD2", "UHD1", "UHD2"]),
];
const AUDIO_PRESETS: [(u8, &[&str]); 3] = [
    (1, &["AUDIO"]),
    (2, &["STEREO_AUDIO", "MULTICHANNEL_AUDIO"]),
    (
        3,
        &[
            "STEREO_AUDIO",
            "MULTICHANNEL_AUDIO_3_6",
            "MULTICHANNEL_AUDIO_7",
        ],
    ),
];
/// The one track type of the `SHARED` preset.
pub const ALL: &str = "ALL";

fn is_video(t: &str) -> bool {
    VIDEO_PRESETS.iter().any(|(_, ts)| ts.contains(&t))
}

fn is_audio(t: &str) -> bool {
    AUDIO_PRESETS.iter().any(|(_, ts)| ts.contains(&t))
}

/// The encryption contract a request's track types make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// One key for every track (`intendedTrackType="ALL"`).
    Shared,
    /// `PRESET-VIDEO-n` and `PRESET-AUDIO-m`; `None` is `UNENCRYPTED`.
    Presets {
        video: Option<u8>,
        audio: Option<u8>,
    },
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Contract::Shared => f.write_str("SHARED"),
            Contract::Presets { video, audio } => {
                match video {
                    Some(v) => write!(f, "PRESET-VIDEO-{v}")?,
                    None => f.write_str("UNENCRYPTED")?,
                }
                match audio {
                    Some(a) => write!(f, " PRESET-AUDIO-{a}"),
                    None => f.write_str(" UNENCRYPTED"),
                }
            }
        }
    }
}

/// Why a SPEKE request was refused: all are the encryptor's to fix (4xx).
/// Messages name the element and KID, never a key.
#[derive(Debug, thiserror::Error)]
pub enum SpekeError {
    #[error(transparent)]
    Cpix(#[from] CpixError),
    #[error("CPIX@version is {0}: SPEKE v2.0 exchanges CPIX 2.3 documents")]
    Version(String),
    #[error("{0} is required in a SPEKE v2 request")]
    Missing(String),
    #[error("{element}: {reason}")]
    Invalid { element: String, reason: String },
    #[error("encryption contract: {0}")]
    Contract(String),
    #[error("a SPEKE request asks for at most {max} content keys")]
    TooManyKeys { max: usize },
}

fn invalid(element: impl Into<String>, reason: impl Into<String>) -> SpekeError {
    SpekeError::Invalid {
        element: element.into(),
        reason: reason.into(),
    }
}

/// A `ContentKeyPeriod` of the request, kept to be answered as given
/// (castguard does not rotate SPEKE keys itself: the encryptor names a
/// KID per period, and each is made and stored like any other).
#[derive(Debug, Clone, PartialEq)]
struct KeyPeriod {
    attrs: Vec<(String, String)>,
}

/// A checked SPEKE v2 request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request as read: the answer is this document, filled.
    pub document: Document,
    /// `CPIX@contentId`, checked: 1 to [`MAX_CONTENT_ID_LEN`] of
    /// `[A-Za-z0-9_.-]`.
    pub content_id: String,
    pub contract: Contract,
    /// The certificate (DER) of the request's `DeliveryData`: the keys of
    /// the answer are encrypted for it.
    pub recipient_certificate: Option<Vec<u8>>,
    periods: Vec<KeyPeriod>,
}

impl Request {
    /// Reads and checks a request body (the CPIX reader's bounds and
    /// refusals apply: no DOCTYPE, no entities, UTF-8, 4 MiB).
    pub fn parse(bytes: &[u8]) -> Result<Request, SpekeError> {
        let document = Document::parse(bytes, None)?;
        // The reader keeps what every CPIX user needs; the version, the
        // recipient certificate and the key periods are SPEKE's, read from
        // the same bounded tree.
        let root = xml::parse(bytes)?;
        match root.attr("version") {
            Some(CPIX_VERSION) => {}
            Some(v) => return Err(SpekeError::Version(format!("'{}'", clip(v)))),
            None => return Err(SpekeError::Missing("CPIX@version".into())),
        }
        let content_id = document
            .content_id
            .clone()
            .ok_or_else(|| SpekeError::Missing("CPIX@contentId".into()))?;
        if content_id.is_empty()
            || content_id.len() > MAX_CONTENT_ID_LEN
            || !content_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            || content_id.starts_with('.')
        {
            return Err(invalid(
                "CPIX@contentId",
                format!("must be 1 to {MAX_CONTENT_ID_LEN} characters of [A-Za-z0-9_.-]"),
            ));
        }
        let recipient_certificate = recipient(&root)?;
        let periods = periods(&root)?;
        let contract = check(&document, &periods)?;
        Ok(Request {
            document,
            content_id,
            contract,
            recipient_certificate,
            periods,
        })
    }

    /// The `intendedTrackType` of `kid`'s usage rule.
    pub fn track_type(&self, kid: Uuid) -> Option<&str> {
        self.document
            .rules_for(kid)
            .find_map(|r| r.intended_track_type.as_deref())
    }

    /// The answer: `answer` (the request with every element filled)
    /// written as CPIX 2.3, keys encrypted for `encrypt_for` when given,
    /// with the request's key periods (which its `KeyPeriodFilter`s
    /// name) as they came.
    pub fn answer_xml(
        &self,
        answer: &Document,
        encrypt_for: Option<&Recipient>,
    ) -> Result<String, CpixError> {
        let mut x = answer.to_xml(encrypt_for)?;
        // The model carries periods by `id` and `index` (the writer puts
        // them where the schema wants them); a request's periods it did
        // not keep are written back here as they came.
        if self.periods.is_empty() || !answer.periods.is_empty() {
            return Ok(x);
        }
        let mut list = String::from("  <ContentKeyPeriodList>\n");
        for p in &self.periods {
            list.push_str("    <ContentKeyPeriod");
            for (k, v) in &p.attrs {
                let _ = write!(list, " {k}=\"{}\"", quick_xml::escape::escape(v.as_str()));
            }
            list.push_str("/>\n");
        }
        list.push_str("  </ContentKeyPeriodList>\n");
        // cpix.xsd places the period list right before the usage rules.
        let at = x
            .find("  <ContentKeyUsageRuleList>")
            .or_else(|| x.rfind("</CPIX>"))
            .ok_or(CpixError::Crypto("the CPIX writer wrote no root end tag"))?;
        x.insert_str(at, &list);
        Ok(x)
    }
}

fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

/// The certificate of the request's one `DeliveryData`, if any.
fn recipient(root: &Element) -> Result<Option<Vec<u8>>, SpekeError> {
    let Some(list) = root.first(NS_CPIX, "DeliveryDataList") else {
        return Ok(None);
    };
    let mut certs = list.all(NS_CPIX, "DeliveryData").map(|d| {
        d.first(NS_CPIX, "DeliveryKey")
            .and_then(|k| k.first(NS_DSIG, "X509Data"))
            .and_then(|x| x.first(NS_DSIG, "X509Certificate"))
            .ok_or_else(|| {
                SpekeError::Missing("DeliveryData/DeliveryKey/X509Data/X509Certificate".into())
            })
            .and_then(|c| {
                let compact: String = c
                    .text
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|_| invalid("X509Certificate", "is not base64"))
            })
    });
    let first = certs.next().transpose()?;
    if certs.next().is_some() {
        return Err(invalid(
            "DeliveryDataList",
            "names more than one recipient; a SPEKE answer is encrypted for one",
        ));
    }
    Ok(first)
}

fn periods(root: &Element) -> Result<Vec<KeyPeriod>, SpekeError> {
    let Some(list) = root.first(NS_CPIX, "ContentKeyPeriodList") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in list.all(NS_CPIX, "ContentKeyPeriod") {
        if out.len() >= MAX_KEYS {
            return Err(SpekeError::TooManyKeys { max: MAX_KEYS });
        }
        let attrs: Vec<(String, String)> = ["id", "index", "label", "start", "end"]
            .into_iter()
            .filter_map(|k| p.attr(k).map(|v| (k.to_string(), v.to_string())))
            .collect();
        out.push(KeyPeriod { attrs });
    }
    Ok(out)
}

/// Checks the request against SPEKE v2's rules and its encryption
/// contract.
fn check(doc: &Document, periods: &[KeyPeriod]) -> Result<Contract, SpekeError> {
    if doc.content_keys.is_empty() {
        return Err(SpekeError::Missing("ContentKeyList/ContentKey".into()));
    }
    if doc.content_keys.len() > MAX_KEYS {
        return Err(SpekeError::TooManyKeys { max: MAX_KEYS });
    }
    if doc.drm_systems.is_empty() {
        return Err(SpekeError::Missing("DRMSystemList/DRMSystem".into()));
    }
    if doc.usage_rules.is_empty() {
        return Err(SpekeError::Missing(
            "ContentKeyUsageRuleList/ContentKeyUsageRule".into(),
        ));
    }
    for k in &doc.content_keys {
        let at = format!("ContentKey {}", k.kid);
        if k.value.is_some() {
            return Err(invalid(at, "a SPEKE request carries no key values"));
        }
        let scheme = k
            .common_encryption_scheme
            .as_deref()
            .ok_or_else(|| SpekeError::Missing(format!("{at}@commonEncryptionScheme")))?;
        if scheme != "cenc" && scheme != "cbcs" {
            return Err(invalid(
                at,
                format!(
                    "commonEncryptionScheme '{}': castguard encrypts with cenc and cbcs",
                    clip(scheme)
                ),
            ));
        }
        let systems: Vec<_> = doc.drm_systems.iter().filter(|d| d.kid == k.kid).collect();
        if systems.is_empty() {
            return Err(SpekeError::Missing(format!("DRMSystem for {at}")));
        }
        if scheme == "cenc" && systems.iter().any(|d| d.system_id == FAIRPLAY) {
            return Err(invalid(at, "FairPlay takes cbcs (SAMPLE-AES), not cenc"));
        }
        let aes = systems.iter().filter(|d| is_aes128(d.system_id)).count();
        if aes > 0 && aes < systems.len() {
            return Err(invalid(
                at,
                "one key is either for HLS AES-128 (Clear Key AES-128) or for Common Encryption, not both",
            ));
        }
        if doc.rules_for(k.kid).count() != 1 {
            return Err(invalid(at, "needs exactly one ContentKeyUsageRule"));
        }
    }
    for r in &doc.usage_rules {
        let at = format!("ContentKeyUsageRule {}", r.kid);
        if !doc.content_keys.iter().any(|k| k.kid == r.kid) {
            return Err(invalid(at, "names a key the ContentKeyList does not have"));
        }
        let t = r
            .intended_track_type
            .as_deref()
            .ok_or_else(|| SpekeError::Missing(format!("{at}@intendedTrackType")))?;
        if t != ALL && !is_video(t) && !is_audio(t) {
            return Err(SpekeError::Contract(format!(
                "intendedTrackType '{}' is none of SPEKE v2's track types",
                clip(t)
            )));
        }
        for f in &r.filters {
            let wrong = match f {
                Filter::Video(_) => is_audio(t),
                Filter::Audio { .. } => is_video(t),
                Filter::KeyPeriod { period_id } => {
                    if !periods
                        .iter()
                        .any(|p| p.attrs.iter().any(|(k, v)| k == "id" && v == period_id))
                    {
                        return Err(invalid(
                            at,
                            format!(
                                "KeyPeriodFilter names period '{}', which the ContentKeyPeriodList does not have",
                                clip(period_id)
                            ),
                        ));
                    }
                    false
                }
                _ => false,
            };
            if wrong {
                return Err(invalid(
                    at,
                    format!("intendedTrackType {t} with a filter for the other kind of track"),
                ));
            }
        }
    }
    contract(doc)
}

fn contract(doc: &Document) -> Result<Contract, SpekeError> {
    let types: Vec<&str> = doc
        .usage_rules
        .iter()
        .filter_map(|r| r.intended_track_type.as_deref())
        .collect();
    if types.contains(&ALL) {
        if types.iter().any(|t| *t != ALL) {
            return Err(SpekeError::Contract(
                "SHARED (intendedTrackType ALL) is one key for every track; it cannot be combined with other track types".into(),
            ));
        }
        if doc.content_keys.len() != 1 {
            return Err(SpekeError::Contract(
                "SHARED (intendedTrackType ALL) is one key for every track, not several".into(),
            ));
        }
        return Ok(Contract::Shared);
    }
    let mut seen: Vec<&str> = Vec::new();
    for t in &types {
        if seen.contains(t) {
            return Err(SpekeError::Contract(format!(
                "intendedTrackType {t} is given to more than one key"
            )));
        }
        seen.push(t);
    }
    let pick = |presets: &[(u8, &[&str])], kind: &str, of: fn(&str) -> bool| {
        let mine: Vec<&str> = seen.iter().copied().filter(|t| of(t)).collect();
        if mine.is_empty() {
            return Ok(None);
        }
        presets
            .iter()
            .find(|(_, ts)| ts.len() == mine.len() && ts.iter().all(|t| mine.contains(t)))
            .map(|(n, _)| Some(*n))
            .ok_or_else(|| {
                SpekeError::Contract(format!(
                    "{kind} track types {} are no PRESET-{}-n",
                    mine.join(", "),
                    kind.to_ascii_uppercase()
                ))
            })
    };
    let video = pick(&VIDEO_PRESETS, "video", is_video)?;
    let audio = pick(&AUDIO_PRESETS, "audio", is_audio)?;
    Ok(Contract::Presets { video, audio })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/cpix/speke-v2-requests"
    );

    fn request(kids_types: &[(&str, &str)], systems: &[&str]) -> String {
        let mut x = String::from(
            r#"<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX contentId="c1" version="2.3" xmlns:cpix="urn:dashif:org:cpix"><cpix:ContentKeyList>"#,
        );
        for (k, _) in kids_types {
            x += &format!(r#"<cpix:ContentKey kid="{k}" commonEncryptionScheme="cbcs"/>"#);
        }
        x += "</cpix:ContentKeyList><cpix:DRMSystemList>";
        for (k, _) in kids_types {
            for s in systems {
                x += &format!(
                    r#"<cpix:DRMSystem kid="{k}" systemId="{s}"><cpix:PSSH/></cpix:DRMSystem>"#
                );
            }
        }
        x += "</cpix:DRMSystemList><cpix:ContentKeyUsageRuleList>";
        for (k, t) in kids_types {
            x += &format!(r#"<cpix:ContentKeyUsageRule kid="{k}" intendedTrackType="{t}"/>"#);
        }
        x + "</cpix:ContentKeyUsageRuleList></cpix:CPIX>"
    }

    fn kid(n: u8) -> String {
        format!("00000000-0000-4000-8000-0000000000{n:02x}")
    }

    fn contract_of(types: &[&str]) -> Result<Contract, SpekeError> {
        let kids: Vec<String> = (0..types.len() as u8).map(kid).collect();
        let pairs: Vec<(&str, &str)> = kids
            .iter()
            .map(String::as_str)
            .zip(types.iter().copied())
            .collect();
        Request::parse(request(&pairs, &[WIDEVINE.to_string().as_str()]).as_bytes())
            .map(|r| r.contract)
    }

    #[test]
    fn presets_are_recognised() {
        assert_eq!(
            contract_of(&["VIDEO", "AUDIO"]).unwrap(),
            Contract::Presets {
                video: Some(1),
                audio: Some(1)
            }
        );
        assert_eq!(
            contract_of(&[
                "SD+HD1",
                "HD2",
                "UHD1",
                "UHD2",
                "STEREO_AUDIO",
                "MULTICHANNEL_AUDIO"
            ])
            .unwrap(),
            Contract::Presets {
                video: Some(8),
                audio: Some(2)
            }
        );
        assert_eq!(
            contract_of(&[
                "SD",
                "HD1",
                "HD2",
                "UHD1",
                "UHD2",
                "STEREO_AUDIO",
                "MULTICHANNEL_AUDIO_3_6",
                "MULTICHANNEL_AUDIO_7"
            ])
            .unwrap(),
            Contract::Presets {
                video: Some(5),
                audio: Some(3)
            }
        );
        assert_eq!(
            contract_of(&["SD", "HD"]).unwrap(),
            Contract::Presets {
                video: Some(2),
                audio: None
            }
        );
        assert_eq!(
            contract_of(&["AUDIO"]).unwrap(),
            Contract::Presets {
                video: None,
                audio: Some(1)
            }
        );
        assert_eq!(contract_of(&["ALL"]).unwrap(), Contract::Shared);
        assert_eq!(contract_of(&["ALL"]).unwrap().to_string(), "SHARED");
        for bad in [
            &["ALL", "AUDIO"][..],
            &["ALL", "ALL"],
            &["SD", "UHD"],
            &["VIDEO", "VIDEO"],
            &["VIDEO", "SD"],
            &["STEREO_AUDIO"],
            &["4K"],
        ] {
            assert!(
                matches!(contract_of(bad), Err(SpekeError::Contract(_))),
                "{bad:?}: {:?}",
                contract_of(bad)
            );
        }
    }

    #[test]
    fn fairplay_needs_cbcs_and_aes128_keys_stay_apart() {
        let k = kid(1);
        let fp = request(&[(&k, "ALL")], &[FAIRPLAY.to_string().as_str()]).replace("cbcs", "cenc");
        assert!(matches!(
            Request::parse(fp.as_bytes()),
            Err(SpekeError::Invalid { .. })
        ));
        let mixed = request(
            &[(&k, "ALL")],
            &[
                WIDEVINE.to_string().as_str(),
                CLEARKEY_AES128.to_string().as_str(),
            ],
        );
        assert!(matches!(
            Request::parse(mixed.as_bytes()),
            Err(SpekeError::Invalid { .. })
        ));
        let aes = request(&[(&k, "ALL")], &[AWS_CLEARKEY_AES128.to_string().as_str()]);
        assert!(Request::parse(aes.as_bytes()).is_ok());
    }

    #[test]
    fn missing_elements_and_attributes_are_refused() {
        let k = kid(1);
        let ok = request(&[(&k, "VIDEO")], &[WIDEVINE.to_string().as_str()]);
        assert!(Request::parse(ok.as_bytes()).is_ok());
        for (from, to) in [
            (" commonEncryptionScheme=\"cbcs\"", ""),
            (" intendedTrackType=\"VIDEO\"", ""),
            ("version=\"2.3\"", "version=\"4.0\""),
            ("version=\"2.3\"", ""),
            ("contentId=\"c1\"", ""),
            ("contentId=\"c1\"", "contentId=\"a/b\""),
        ] {
            let bad = ok.replace(from, to);
            assert!(Request::parse(bad.as_bytes()).is_err(), "{from} -> {to}");
        }
        let start = ok.find("<cpix:DRMSystem ").unwrap();
        let end = ok.find("</cpix:DRMSystem>").unwrap() + "</cpix:DRMSystem>".len();
        let no_drm = format!("{}{}", &ok[..start], &ok[end..]);
        assert!(matches!(
            Request::parse(no_drm.as_bytes()),
            Err(SpekeError::Missing(_))
        ));
        assert!(Request::parse(b"").is_err());
        let doctype = ok.replace("<cpix:CPIX", "<!DOCTYPE x [<!ENTITY e \"e\">]><cpix:CPIX");
        assert!(matches!(
            Request::parse(doctype.as_bytes()),
            Err(SpekeError::Cpix(CpixError::Doctype))
        ));
    }

    #[test]
    fn aws_reference_requests() {
        for folder in ["general", "vod"] {
            for (file, ok) in [
                (
                    "1_generic_spekev2_dash_widevine_preset_video_1_audio_1_no_rotation.xml",
                    true,
                ),
                ("2_speke_v1_style_implementation.xml", true),
                ("3_negative_wrong_version_spekev2_dash_widevine.xml", false),
                ("4_spekev2_negative_preset_shared_video.xml", false),
                ("5_spekev2_negative_preset_shared_audio.xml", false),
            ] {
                let path = format!("{DIR}/{folder}/{file}");
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                let r = Request::parse(&bytes);
                assert_eq!(r.is_ok(), ok, "{folder}/{file}: {r:?}");
            }
        }
    }

    #[test]
    fn periods_are_answered_where_the_schema_wants_them() {
        let bytes =
            std::fs::read(format!("{DIR}/general/2_speke_v1_style_implementation.xml")).unwrap();
        let r = Request::parse(&bytes).unwrap();
        let xml = r.answer_xml(&r.document, None).unwrap();
        let periods = xml.find("<ContentKeyPeriodList>").unwrap();
        assert!(xml.find("<DRMSystemList>").unwrap() < periods);
        assert!(periods < xml.find("<ContentKeyUsageRuleList>").unwrap());
        assert!(xml.contains(
            r#"<ContentKeyPeriod id="keyPeriod_2a50937e-4f6d-4794-9e77-f9ed86d4443c" index="0"/>"#
        ));
    }
}
