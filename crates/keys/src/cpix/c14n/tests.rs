//! The examples of the W3C specs: Canonical XML 1.0 §3
//! (<https://www.w3.org/TR/2001/REC-xml-c14n-20010315#Examples>) and
//! Exclusive XML Canonicalization §2.2. Where an example needs a DTD
//! (default attributes, ID and NMTOKENS normalization), castguard has none
//! (a DOCTYPE is refused), so the DTD is left out and so is what it adds.

use super::*;

fn c14n(input: &str, method: &Method) -> String {
    let dom = Dom::parse(input).unwrap();
    String::from_utf8(
        dom.canonicalize(Subset::Document { exclude: None }, method)
            .unwrap(),
    )
    .unwrap()
}

const PLAIN: Method = Method::Inclusive { comments: false };
const COMMENTS: Method = Method::Inclusive { comments: true };

fn exclusive(comments: bool) -> Method {
    Method::Exclusive {
        comments,
        inclusive_prefixes: Vec::new(),
    }
}

/// §3.1 PIs, Comments, and Outside of Document Element.
#[test]
fn pis_comments_and_outside_of_the_document_element() {
    let input = "<?xml version=\"1.0\"?>\n\n<?xml-stylesheet   href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n\n<doc>Hello, world!<!-- Comment 1 --></doc>\n\n<?pi-without-data     ?>\n\n<!-- Comment 2 -->\n\n<!-- Comment 3 -->\n";
    assert_eq!(
        c14n(input, &PLAIN),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!</doc>\n<?pi-without-data?>"
    );
    assert_eq!(
        c14n(input, &COMMENTS),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!<!-- Comment 1 --></doc>\n<?pi-without-data?>\n<!-- Comment 2 -->\n<!-- Comment 3 -->"
    );
    // Exclusive canonicalization treats them the same way.
    assert_eq!(c14n(input, &exclusive(true)), c14n(input, &COMMENTS));
    assert_eq!(c14n(input, &exclusive(false)), c14n(input, &PLAIN));
}

/// §3.2 Whitespace in Document Content: kept as it is.
#[test]
fn whitespace_in_content() {
    let input = "<doc>\n   <clean>   </clean>\n   <dirty>   A   B   </dirty>\n   <mixed>\n      A\n      <clean>   </clean>\n      B\n      <dirty>   A   B   </dirty>\n      C\n   </mixed>\n</doc>";
    assert_eq!(
        c14n(&format!("<?xml version=\"1.0\"?>\n{input}\n"), &PLAIN),
        input
    );
}

/// §3.3 Start and End Tags (without the DTD's default attribute on e9).
#[test]
fn start_and_end_tags() {
    let input = r#"<doc>
   <e1   />
   <e2   ></e2>
   <e3   name = "elem3"   id="elem3"   />
   <e4   name="elem4"   id="elem4"   ></e4>
   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I'm"
      xmlns:b="http://www.ietf.org"
      xmlns:a="http://www.w3.org"
      xmlns="http://example.org"/>
   <e6 xmlns="" xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="" xmlns:a="http://www.w3.org">
            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>
         </e8>
      </e7>
   </e6>
</doc>"#;
    let want = r#"<doc>
   <e1></e1>
   <e2></e2>
   <e3 id="elem3" name="elem3"></e3>
   <e4 id="elem4" name="elem4"></e4>
   <e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I'm" attr2="all" b:attr="sorted" a:attr="out"></e5>
   <e6 xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="">
            <e9 xmlns:a="http://www.ietf.org"></e9>
         </e8>
      </e7>
   </e6>
</doc>"#;
    assert_eq!(c14n(input, &PLAIN), want);
}

/// §3.4 Character Modifications and Character References (the elements
/// whose attributes are CDATA without a DTD).
#[test]
fn character_modifications_and_references() {
    let input = "<doc>\n   <text>First line&#x0d;&#10;Second line</text>\n   <value>&#x32;</value>\n   <compute><![CDATA[value>\"0\" && value<\"10\" ?\"valid\":\"error\"]]></compute>\n   <compute expr='value>\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"'>valid</compute>\n   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>\n</doc>";
    let want = "<doc>\n   <text>First line&#xD;\nSecond line</text>\n   <value>2</value>\n   <compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute>\n   <compute expr=\"value>&quot;0&quot; &amp;&amp; value&lt;&quot;10&quot; ?&quot;valid&quot;:&quot;error&quot;\">valid</compute>\n   <norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>\n</doc>";
    assert_eq!(c14n(input, &PLAIN), want);
}

/// §3.6 UTF-8 Encoding: a character reference becomes the character.
#[test]
fn utf8_output() {
    assert_eq!(c14n("<doc>&#169;</doc>", &PLAIN), "<doc>\u{a9}</doc>");
}

/// Line ends in text are normalized by the parser (XML 1.0 §2.11).
#[test]
fn line_ends() {
    assert_eq!(c14n("<doc>a\r\nb\rc</doc>", &PLAIN), "<doc>a\nb\nc</doc>");
}

fn subtree(input: &str, local: &str, method: &Method) -> String {
    let dom = Dom::parse(input).unwrap();
    let apex = dom
        .elements()
        .into_iter()
        .find(|&i| dom.element(i).unwrap().local() == local)
        .unwrap();
    String::from_utf8(
        dom.canonicalize(
            Subset::Subtree {
                apex,
                exclude: None,
            },
            method,
        )
        .unwrap(),
    )
    .unwrap()
}

/// Exclusive XML Canonicalization §2.2: the same element in two contexts
/// has two inclusive canonical forms (inherited namespaces, xml:
/// attributes) and one exclusive form.
#[test]
fn exclusive_spec_example() {
    let first = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
    let second = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#;
    assert_eq!(
        subtree(first, "elem2", &PLAIN),
        r#"<n1:elem2 xmlns:n0="foo:bar" xmlns:n1="http://example.net" xmlns:n3="ftp://example.org" xml:lang="en"><n3:stuff></n3:stuff></n1:elem2>"#
    );
    assert_eq!(
        subtree(second, "elem2", &PLAIN),
        r#"<n1:elem2 xmlns:n1="http://example.net" xmlns:n2="http://foo.example" xml:lang="en" xml:space="retain"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
    );
    let want = r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#;
    assert_eq!(subtree(first, "elem2", &exclusive(false)), want);
    assert_eq!(subtree(second, "elem2", &exclusive(false)), want);
    // InclusiveNamespaces PrefixList: n0 is rendered as inclusive c14n would.
    let with_n0 = Method::Exclusive {
        comments: false,
        inclusive_prefixes: vec!["n0".into()],
    };
    assert_eq!(
        subtree(first, "elem2", &with_n0),
        r#"<n1:elem2 xmlns:n0="foo:bar" xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
    );
}

/// Exclusive: a default namespace is rendered where it is used, and
/// undeclared (`xmlns=""`) only under an element that rendered one.
#[test]
fn exclusive_default_namespace() {
    let input = r#"<a xmlns="urn:a" xmlns:u="urn:u"><b><c xmlns=""><d/></c><u:e/></b></a>"#;
    assert_eq!(
        subtree(input, "b", &exclusive(false)),
        r#"<b xmlns="urn:a"><c xmlns=""><d></d></c><u:e xmlns:u="urn:u"></u:e></b>"#
    );
    assert_eq!(subtree(input, "c", &exclusive(false)), r#"<c><d></d></c>"#);
}

/// The enveloped-signature node-set: the document less one subtree.
#[test]
fn document_less_a_subtree() {
    let input = "<r xmlns=\"urn:r\"><a>1</a><s><x/></s><!--c--></r>";
    let dom = Dom::parse(input).unwrap();
    let s = dom
        .elements()
        .into_iter()
        .find(|&i| dom.element(i).unwrap().local() == "s")
        .unwrap();
    let got = dom
        .canonicalize(Subset::Document { exclude: Some(s) }, &PLAIN)
        .unwrap();
    assert_eq!(got, b"<r xmlns=\"urn:r\"><a>1</a></r>");
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    for bad in [
        "",
        "<a>",
        "<a></b>",
        "<p:a/>",
        "<a p:x='1'/>",
        "<a/><b/>",
        "x<a/>",
        "<a>&x;</a>",
        "<!DOCTYPE a><a/>",
        "<a x='1' x='2'/>",
    ] {
        assert!(Dom::parse(bad).is_err(), "{bad:?}");
    }
}
