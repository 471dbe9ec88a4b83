//! XML canonicalization for signature verification: Canonical XML 1.0
//! (<https://www.w3.org/TR/2001/REC-xml-c14n-20010315>, what .NET's
//! `SignedXml`, and so the DASH-IF CPIX vectors, use) and Exclusive XML
//! Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>), each with
//! and without comments.
//!
//! Why our own: the Rust crates that canonicalize either bind libxml2 or
//! bring their own XML parser (roxmltree) and crypto library (ring) next to
//! the quick-xml and aws-lc-rs castguard already trusts with hostile input;
//! the part of the two specs a signature over a whole document or over an
//! element's subtree needs is small.
//!
//! [`Dom`] is a faithful tree (prefixes as written, namespace declarations,
//! every attribute, text, comments and processing instructions in order)
//! that [`super::xml`] does not keep. It is only built for documents that
//! [`super::xml::parse`] already accepted (no DOCTYPE, no entities, bounded),
//! and it re-checks what it relies on. The node-sets canonicalized are the
//! ones XML Signature produces without XPath: the whole document (optionally
//! less one element's subtree, the enveloped signature) and one element's
//! subtree.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::collections::BTreeMap;

pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// An error building the tree: the byte offset and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct DomError {
    pub offset: u64,
    pub reason: String,
}

/// A node of [`Dom`].
#[derive(Debug, Clone)]
pub enum Node {
    Element(Element),
    Text(String),
    Comment(String),
    Pi { target: String, data: String },
}

#[derive(Debug, Clone, Default)]
pub struct Element {
    /// The name as written: `prefix:local` or `local`.
    pub qname: String,
    /// Namespace declarations on this element: prefix (`""` for the
    /// default namespace) and URI (`""` undeclares the default).
    pub ns_decls: Vec<(String, String)>,
    /// Other attributes: name as written and normalized value.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<usize>,
    pub parent: Option<usize>,
}

impl Element {
    pub fn prefix(&self) -> &str {
        self.qname.split_once(':').map(|(p, _)| p).unwrap_or("")
    }

    pub fn local(&self) -> &str {
        self.qname
            .split_once(':')
            .map(|(_, l)| l)
            .unwrap_or(&self.qname)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed document: nodes by index, the document's children in order
/// (comments and PIs around the root element, and the root).
#[derive(Debug, Clone)]
pub struct Dom {
    pub nodes: Vec<Node>,
    pub top: Vec<usize>,
    pub root: usize,
}

/// Which canonicalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Canonical XML 1.0.
    Inclusive { comments: bool },
    /// Exclusive XML Canonicalization 1.0, with the `InclusiveNamespaces`
    /// `PrefixList` (`#default` for the default namespace).
    Exclusive {
        comments: bool,
        inclusive_prefixes: Vec<String>,
    },
}

impl Method {
    fn comments(&self) -> bool {
        match self {
            Method::Inclusive { comments } | Method::Exclusive { comments, .. } => *comments,
        }
    }
}

/// What to canonicalize.
#[derive(Debug, Clone, Copy)]
pub enum Subset {
    /// The whole document, less the subtree of `exclude` if given.
    Document { exclude: Option<usize> },
    /// The subtree of an element (the apex), less `exclude`'s subtree.
    Subtree { apex: usize, exclude: Option<usize> },
}

fn err(r: &Reader<&[u8]>, reason: impl std::fmt::Display) -> DomError {
    DomError {
        offset: r.buffer_position(),
        reason: reason.to_string(),
    }
}

impl Dom {
    /// Parses `text` (already accepted by [`super::xml::parse`]).
    pub fn parse(text: &str) -> Result<Dom, DomError> {
        let mut r = Reader::from_str(text);
        r.config_mut().check_end_names = true;
        let mut nodes: Vec<Node> = Vec::new();
        let mut top = Vec::new();
        let mut root = None;
        let mut stack: Vec<usize> = Vec::new();
        // Adjacent text, CDATA and references make one text node.
        let mut pending = String::new();
        fn flush(nodes: &mut Vec<Node>, stack: &[usize], pending: &mut String) {
            if pending.is_empty() {
                return;
            }
            let text = std::mem::take(pending);
            if let Some(&parent) = stack.last() {
                let i = nodes.len();
                nodes.push(Node::Text(text));
                if let Node::Element(e) = &mut nodes[parent] {
                    e.children.push(i);
                }
            }
        }
        loop {
            let event = r.read_event().map_err(|e| err(&r, e))?;
            match event {
                Event::Text(t) => {
                    let s = t.xml_content(XmlVersion::Implicit1_0);
                    if stack.is_empty() {
                        if !s.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
                            return Err(err(&r, "text outside the root element"));
                        }
                    } else {
                        pending.push_str(&s);
                    }
                }
                Event::CData(c) => {
                    if stack.is_empty() {
                        return Err(err(&r, "CDATA outside the root element"));
                    }
                    pending.push_str(&c.xml_content(XmlVersion::Implicit1_0));
                }
                Event::GeneralRef(g) => {
                    if stack.is_empty() {
                        return Err(err(&r, "reference outside the root element"));
                    }
                    let c = match g.resolve_char_ref().map_err(|e| err(&r, e))? {
                        Some(c) => c,
                        None => {
                            let name: &str = g.as_ref();
                            super::xml::predefined_entity(name)
                                .ok_or_else(|| err(&r, format!("entity &{name}; is not allowed")))?
                        }
                    };
                    pending.push(c);
                }
                Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                    return Err(err(&r, "content after the root element"));
                }
                Event::Start(ref s) | Event::Empty(ref s) => {
                    flush(&mut nodes, &stack, &mut pending);
                    let i = element(&r, &mut nodes, &stack, s)?;
                    if stack.is_empty() {
                        root = Some(i);
                        top.push(i);
                    }
                    // An empty element is closed as soon as it is open.
                    if matches!(event, Event::Start(_)) {
                        stack.push(i);
                    }
                }
                Event::End(_) => {
                    flush(&mut nodes, &stack, &mut pending);
                    if stack.pop().is_none() {
                        return Err(err(&r, "end tag without a start tag"));
                    }
                }
                Event::Comment(c) => {
                    flush(&mut nodes, &stack, &mut pending);
                    let text = c.xml_content(XmlVersion::Implicit1_0).into_owned();
                    push_child(&mut nodes, &stack, &mut top, Node::Comment(text));
                }
                Event::PI(p) => {
                    flush(&mut nodes, &stack, &mut pending);
                    let target = p.target().to_string();
                    if target.eq_ignore_ascii_case("xml") {
                        continue;
                    }
                    let data = p
                        .content()
                        .trim_start_matches([' ', '\t', '\r', '\n'])
                        .replace("\r\n", "\n")
                        .replace('\r', "\n");
                    push_child(&mut nodes, &stack, &mut top, Node::Pi { target, data });
                }
                Event::Decl(_) => {}
                Event::DocType(_) => return Err(err(&r, "a DOCTYPE is not allowed")),
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            return Err(err(&r, "the document ends inside an element"));
        }
        let root = root.ok_or_else(|| err(&r, "no root element"))?;
        Ok(Dom { nodes, top, root })
    }

    pub fn element(&self, i: usize) -> Option<&Element> {
        match self.nodes.get(i) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        }
    }

    /// The element children of `i`.
    pub fn child_elements(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.element(i)
            .map(|e| e.children.as_slice())
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&c| self.element(c).is_some())
    }

    /// Every element in document order.
    pub fn elements(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut todo = vec![self.root];
        while let Some(i) = todo.pop() {
            out.push(i);
            let mut kids: Vec<usize> = self.child_elements(i).collect();
            kids.reverse();
            todo.extend(kids);
        }
        out
    }

    /// The namespace URI `prefix` is bound to at element `i` (`""` for
    /// none); `None` when an explicit prefix is not declared.
    pub fn lookup(&self, i: usize, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let mut at = Some(i);
        while let Some(n) = at {
            let e = self.element(n)?;
            if let Some((_, uri)) = e.ns_decls.iter().find(|(p, _)| p == prefix) {
                return Some(uri);
            }
            at = e.parent;
        }
        if prefix.is_empty() { Some("") } else { None }
    }

    /// The namespace bindings in scope at `i` (prefix to URI; the default
    /// namespace under `""` only when it is not empty).
    pub fn in_scope(&self, i: usize) -> BTreeMap<String, String> {
        let mut chain = Vec::new();
        let mut at = Some(i);
        while let Some(n) = at {
            let Some(e) = self.element(n) else { break };
            chain.push(n);
            at = e.parent;
        }
        let mut map = BTreeMap::new();
        for n in chain.into_iter().rev() {
            if let Some(e) = self.element(n) {
                for (p, u) in &e.ns_decls {
                    map.insert(p.clone(), u.clone());
                }
            }
        }
        map.retain(|p, u| !(p.is_empty() && u.is_empty()));
        map
    }

    /// The canonical form of `subset` under `method`.
    pub fn canonicalize(&self, subset: Subset, method: &Method) -> Result<Vec<u8>, DomError> {
        let mut out = String::new();
        match subset {
            Subset::Document { exclude } => {
                let root_pos = self.top.iter().position(|&t| t == self.root).unwrap_or(0);
                for (k, &t) in self.top.iter().enumerate() {
                    let (before, after) = (k < root_pos, k > root_pos);
                    match &self.nodes[t] {
                        Node::Element(_) => {
                            self.write_element(
                                &mut out,
                                t,
                                true,
                                &BTreeMap::new(),
                                exclude,
                                method,
                            )?;
                        }
                        Node::Comment(c) if method.comments() => {
                            if after {
                                out.push('\n');
                            }
                            out.push_str("<!--");
                            out.push_str(c);
                            out.push_str("-->");
                            if before {
                                out.push('\n');
                            }
                        }
                        Node::Pi { target, data } => {
                            if after {
                                out.push('\n');
                            }
                            write_pi(&mut out, target, data);
                            if before {
                                out.push('\n');
                            }
                        }
                        _ => {}
                    }
                }
            }
            Subset::Subtree { apex, exclude } => {
                if self.element(apex).is_none() {
                    return Err(DomError {
                        offset: 0,
                        reason: "not an element".into(),
                    });
                }
                if exclude != Some(apex) {
                    self.write_element(&mut out, apex, true, &BTreeMap::new(), exclude, method)?;
                }
            }
        }
        Ok(out.into_bytes())
    }

    /// Writes element `i` and its subtree. `rendered` holds the namespace
    /// declarations in effect in the output at the parent (prefix to URI).
    fn write_element(
        &self,
        out: &mut String,
        i: usize,
        apex: bool,
        rendered: &BTreeMap<String, String>,
        exclude: Option<usize>,
        method: &Method,
    ) -> Result<(), DomError> {
        let Some(e) = self.element(i) else {
            return Ok(());
        };
        let in_scope = self.in_scope(i);
        let rendered_default = rendered.get("").map(String::as_str).unwrap_or("");
        // Namespace declarations to write: prefix -> URI.
        let mut decls: BTreeMap<String, String> = BTreeMap::new();
        match method {
            Method::Inclusive { .. } => {
                for (p, u) in &in_scope {
                    if p == "xml" {
                        continue;
                    }
                    if rendered.get(p) != Some(u) {
                        decls.insert(p.clone(), u.clone());
                    }
                }
                if !in_scope.contains_key("") && !rendered_default.is_empty() {
                    decls.insert(String::new(), String::new());
                }
            }
            Method::Exclusive {
                inclusive_prefixes, ..
            } => {
                let mut used: Vec<String> = vec![e.prefix().to_string()];
                for (name, _) in &e.attrs {
                    if let Some((p, _)) = name.split_once(':') {
                        used.push(p.to_string());
                    }
                }
                for p in inclusive_prefixes {
                    let p = if p == "#default" { "" } else { p.as_str() };
                    if p.is_empty() || in_scope.contains_key(p) {
                        used.push(p.to_string());
                    }
                }
                for p in used {
                    if p == "xml" {
                        continue;
                    }
                    let uri = match in_scope.get(&p) {
                        Some(u) => u.clone(),
                        None if p.is_empty() => String::new(),
                        None => {
                            return Err(DomError {
                                offset: 0,
                                reason: format!("prefix {p} is not declared"),
                            });
                        }
                    };
                    let current = rendered.get(&p).map(String::as_str).unwrap_or("");
                    if current != uri {
                        decls.insert(p, uri);
                    }
                }
            }
        }
        // Attributes, sorted by namespace URI then local name.
        let mut attrs: Vec<(String, String, &str, &str)> = Vec::new();
        for (name, value) in &e.attrs {
            let (uri, local) = match name.split_once(':') {
                Some((p, l)) => (
                    self.lookup(i, p)
                        .ok_or_else(|| DomError {
                            offset: 0,
                            reason: format!("prefix {p} is not declared"),
                        })?
                        .to_string(),
                    l.to_string(),
                ),
                None => (String::new(), name.clone()),
            };
            attrs.push((uri, local, name.as_str(), value.as_str()));
        }
        // Canonical XML 1.0: the apex of a subset inherits xml:* attributes
        // from its ancestors.
        let mut inherited: Vec<(String, String)> = Vec::new();
        if apex && matches!(method, Method::Inclusive { .. }) {
            let mut at = e.parent;
            while let Some(n) = at {
                let Some(a) = self.element(n) else { break };
                for (name, value) in &a.attrs {
                    if let Some(local) = name.strip_prefix("xml:")
                        && !attrs.iter().any(|(u, l, _, _)| u == XML_NS && l == local)
                        && !inherited.iter().any(|(n2, _)| n2 == name)
                    {
                        inherited.push((name.clone(), value.clone()));
                    }
                }
                at = a.parent;
            }
        }
        for (name, value) in &inherited {
            let local = name.strip_prefix("xml:").unwrap_or(name);
            attrs.push((XML_NS.to_string(), local.to_string(), name, value));
        }
        attrs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));

        out.push('<');
        out.push_str(&e.qname);
        for (p, u) in &decls {
            if p.is_empty() {
                out.push_str(" xmlns=\"");
            } else {
                out.push_str(" xmlns:");
                out.push_str(p);
                out.push_str("=\"");
            }
            escape_attr(out, u);
            out.push('"');
        }
        for (_, _, name, value) in &attrs {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape_attr(out, value);
            out.push('"');
        }
        out.push('>');
        let mut now = rendered.clone();
        for (p, u) in decls {
            now.insert(p, u);
        }
        for &c in &e.children {
            if Some(c) == exclude {
                continue;
            }
            match &self.nodes[c] {
                Node::Element(_) => self.write_element(out, c, false, &now, exclude, method)?,
                Node::Text(t) => escape_text(out, t),
                Node::Comment(t) => {
                    if method.comments() {
                        out.push_str("<!--");
                        out.push_str(t);
                        out.push_str("-->");
                    }
                }
                Node::Pi { target, data } => write_pi(out, target, data),
            }
        }
        out.push_str("</");
        out.push_str(&e.qname);
        out.push('>');
        Ok(())
    }
}

fn push_child(nodes: &mut Vec<Node>, stack: &[usize], top: &mut Vec<usize>, node: Node) {
    let i = nodes.len();
    nodes.push(node);
    match stack.last() {
        Some(&parent) => {
            if let Node::Element(e) = &mut nodes[parent] {
                e.children.push(i);
            }
        }
        None => top.push(i),
    }
}

fn element(
    r: &Reader<&[u8]>,
    nodes: &mut Vec<Node>,
    stack: &[usize],
    s: &BytesStart<'_>,
) -> Result<usize, DomError> {
    let qname = AsRef::<str>::as_ref(&s.name()).to_string();
    let mut el = Element {
        qname,
        parent: stack.last().copied(),
        ..Element::default()
    };
    for a in s.attributes() {
        let a = a.map_err(|e| err(r, e))?;
        let key = AsRef::<str>::as_ref(&a.key).to_string();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| err(r, e))?
            .into_owned();
        if key == "xmlns" {
            el.ns_decls.push((String::new(), value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            el.ns_decls.push((p.to_string(), value));
        } else {
            if el.attrs.iter().any(|(k, _)| *k == key) {
                return Err(err(r, format!("attribute {key} given twice")));
            }
            el.attrs.push((key, value));
        }
    }
    let i = nodes.len();
    nodes.push(Node::Element(el));
    // Every prefix used must be declared (checked once, here).
    let mut prefixes: Vec<String> = Vec::new();
    if let Node::Element(e) = &nodes[i] {
        prefixes.push(e.prefix().to_string());
        for (k, _) in &e.attrs {
            if let Some((p, _)) = k.split_once(':') {
                prefixes.push(p.to_string());
            }
        }
    }
    if let Some(&parent) = stack.last()
        && let Node::Element(p) = &mut nodes[parent]
    {
        p.children.push(i);
    }
    let dom = DomView { nodes };
    for p in prefixes {
        if !p.is_empty() && dom.lookup(i, &p).is_none() {
            return Err(err(r, format!("namespace prefix {p} is not declared")));
        }
    }
    Ok(i)
}

/// Namespace lookup while the tree is being built.
struct DomView<'a> {
    nodes: &'a [Node],
}

impl DomView<'_> {
    fn lookup(&self, i: usize, prefix: &str) -> Option<()> {
        if prefix == "xml" {
            return Some(());
        }
        let mut at = Some(i);
        while let Some(n) = at {
            let Some(Node::Element(e)) = self.nodes.get(n) else {
                return None;
            };
            if e.ns_decls.iter().any(|(p, u)| p == prefix && !u.is_empty()) {
                return Some(());
            }
            at = e.parent;
        }
        None
    }
}

fn write_pi(out: &mut String, target: &str, data: &str) {
    out.push_str("<?");
    out.push_str(target);
    if !data.is_empty() {
        out.push(' ');
        out.push_str(data);
    }
    out.push_str("?>");
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
