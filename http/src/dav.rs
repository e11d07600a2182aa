//! WebDAV at the protocol level (RFC 4918), shared by the DAV providers (files, calendars,
//! contacts): the body of a `PROPFIND` asking for a list of properties, and the parse of the
//! `207 Multi-Status` answer. Nothing here knows a file tree, a calendar or Nextcloud.
//!
//! Memory stays bounded whatever the size of a collection: the parse streams from any
//! [`BufRead`] (a response spooled to a file, or bytes in memory) and hands each
//! `<response>` to a callback as soon as it ends, so a multistatus of a million members
//! never exists in memory as a whole; each property value is capped at
//! [`MAX_PROPERTY_BYTES`], each response at [`MAX_PROPERTIES`] properties and at
//! [`RESPONSE_PROPERTIES`] times that many bytes in all, the nesting at [`MAX_DEPTH`]
//! elements, and the bytes the XML reader buffers for one text or tag (everything between
//! two `<`) at [`RUN_FACTOR`] times the property cap: beyond these the parse fails rather
//! than grow.

use std::io::{self, BufRead, Read};

use percent_encoding::percent_decode_str;
use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use reqwest::Url;
use sortie_sdk::error::{Error, ErrorKind, Result};

/// The `DAV:` namespace.
pub const DAV: &str = "DAV:";

/// The longest text or inner XML of one property kept, in bytes: a dead property holding
/// megabytes is a server's defect or an attack, not metadata.
pub const MAX_PROPERTY_BYTES: usize = 1 << 20;

/// The most properties of one response kept.
pub const MAX_PROPERTIES: usize = 4096;

/// The deepest nesting of elements below `<multistatus>` read: a response's properties
/// need a handful of levels, and each open level costs memory.
pub const MAX_DEPTH: usize = 128;

/// How many times the property cap all the properties of one response may hold.
pub const RESPONSE_PROPERTIES: usize = 4;

/// How many times the property cap the XML reader may buffer for one text or tag: escaped
/// text takes up to six bytes per character it stands for (`&amp;`).
pub const RUN_FACTOR: usize = 6;

/// A property's name: its namespace URI and local name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropName<'a> {
    /// The namespace URI (`DAV:`, `http://owncloud.org/ns`…).
    pub namespace: &'a str,
    /// The local name (`getetag`).
    pub name: &'a str,
}

impl<'a> PropName<'a> {
    /// The property `name` in `namespace`.
    pub const fn new(namespace: &'a str, name: &'a str) -> Self {
        Self { namespace, name }
    }
}

/// The body of a `PROPFIND` asking for `properties`, or for every property (`<allprop/>`)
/// when the list is empty. Each namespace gets a prefix of its own, declared on the root.
pub fn propfind_body(properties: &[PropName<'_>]) -> String {
    let mut body = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    if properties.is_empty() {
        body.push_str(r#"<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>"#);
        return body;
    }
    let mut namespaces: Vec<&str> = vec![DAV];
    for property in properties {
        if !namespaces.contains(&property.namespace) {
            namespaces.push(property.namespace);
        }
    }
    let prefix = |namespace: &str| match namespaces.iter().position(|n| *n == namespace) {
        Some(0) | None => "d".to_owned(),
        Some(i) => format!("n{i}"),
    };
    body.push_str(r#"<d:propfind xmlns:d="DAV:""#);
    for (i, namespace) in namespaces.iter().enumerate().skip(1) {
        body.push_str(&format!(r#" xmlns:n{i}="{}""#, escape_attribute(namespace)));
    }
    body.push_str("><d:prop>");
    for property in properties {
        body.push_str(&format!("<{}:{}/>", prefix(property.namespace), property.name));
    }
    body.push_str("</d:prop></d:propfind>");
    body
}

/// The body of a `PROPFIND` asking for every property the server returns by default,
/// dead ones included (`<allprop/>`), and for `include` besides: the live properties a
/// server leaves out of `allprop` (RFC 4918, 14.8).
pub fn propfind_allprop_body(include: &[PropName<'_>]) -> String {
    let named = propfind_body(include);
    if include.is_empty() {
        return named;
    }
    named.replacen("<d:prop>", "<d:allprop/><d:include>", 1).replacen("</d:prop>", "</d:include>", 1)
}

fn escape_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;")
}

/// One property of a response, with the status of the `<propstat>` it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Its namespace URI (empty when unbound).
    pub namespace: String,
    /// Its local name.
    pub name: String,
    /// The HTTP status code of its `<propstat>` (200, 404…).
    pub status: u16,
    /// Its text content, entities resolved, child elements' text included.
    pub text: String,
    /// Its content as XML (child elements and text), for structured values such as
    /// `resourcetype` or `oc:share-types`: without prefixes, each element declaring its
    /// namespace as the default where it changes, so that it stands alone.
    pub inner_xml: String,
    /// The local names of its child elements, in namespace-qualified form `{ns}name`.
    pub children: Vec<String>,
}

impl Property {
    /// The `DAV:href`s directly inside it (a home set, a principal, an owner), as served.
    pub fn hrefs(&self) -> Vec<String> {
        let mut reader = NsReader::from_str(&self.inner_xml);
        let (mut hrefs, mut depth, mut current) = (Vec::new(), 0usize, None::<String>);
        while let Ok((resolved, event)) = reader.read_resolved_event() {
            let dav = matches!(&resolved, ResolveResult::Bound(ns) if ns.as_ref() == DAV.as_bytes());
            match event {
                Event::Start(start) => {
                    depth += 1;
                    if depth == 1 && dav && start.local_name().as_ref() == b"href" {
                        current = Some(String::new());
                    }
                }
                Event::End(_) => {
                    depth = depth.saturating_sub(1);
                    if depth == 0
                        && let Some(href) = current.take()
                    {
                        hrefs.push(href.trim().to_owned());
                    }
                }
                Event::Text(text) => {
                    if let (Some(href), Ok(text)) = (current.as_mut(), text.decode()) {
                        href.push_str(&text);
                    }
                }
                Event::GeneralRef(reference) => {
                    let resolved = reference.decode().ok().and_then(|name| resolve_predefined_entity(&name));
                    if let (Some(href), Some(resolved)) = (current.as_mut(), resolved) {
                        href.push_str(resolved);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        hrefs
    }
}

/// One `<response>` of a multistatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The `<href>` as served.
    pub href: String,
    /// The href resolved against the request URL (still percent-encoded).
    pub url: Url,
    /// The status of the response itself, when it has one instead of propstats (a member
    /// that could not be read: `404`, `403`).
    pub status: Option<u16>,
    /// Every property, whatever its status.
    pub properties: Vec<Property>,
}

impl Response {
    /// The property `name`, when it came with a 2xx status.
    pub fn get(&self, name: PropName<'_>) -> Option<&Property> {
        self.properties
            .iter()
            .find(|p| p.name == name.name && p.namespace == name.namespace && (200..300).contains(&p.status))
    }

    /// The text of the property `name`, when it came with a 2xx status.
    pub fn text(&self, name: PropName<'_>) -> Option<&str> {
        self.get(name).map(|p| p.text.as_str())
    }

    /// Whether `resourcetype` contains `<collection/>`.
    pub fn is_collection(&self) -> bool {
        self.get(PropName::new(DAV, "resourcetype")).is_some_and(|p| p.children.iter().any(|c| c == "{DAV:}collection"))
    }

    /// The path of [`Response::url`], percent-decoded to raw bytes (names need not be UTF-8).
    pub fn decoded_path(&self) -> Vec<u8> {
        percent_decode_str(self.url.path()).collect()
    }
}

/// The path of `url`, percent-decoded to raw bytes.
pub fn decoded_path(url: &Url) -> Vec<u8> {
    percent_decode_str(url.path()).collect()
}

/// Parses a `207 Multi-Status` body from `reader`, calling `on_response` with each
/// `<response>` as soon as it ends; an error of the callback stops the parse. Hrefs are
/// resolved against `request_url`, the URL the request went to.
pub fn parse_multistatus<R: BufRead>(
    reader: R,
    request_url: &Url,
    on_response: impl FnMut(Response) -> Result<()>,
) -> Result<()> {
    parse_multistatus_with(reader, request_url, ParseOptions::default(), on_response)
}

/// How [`parse_multistatus_with`] reads property values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Keep line ends as the server wrote them instead of normalizing CRLF to LF as XML
    /// wants: a REPORT's `calendar-data` or `address-data` is then byte for byte what a GET
    /// of the resource returns (iCalendar and vCard lines end in CRLF).
    pub keep_line_ends: bool,
    /// The longest text or inner XML of one property kept, in bytes (a multiget carries
    /// whole resources).
    pub max_property_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self { keep_line_ends: false, max_property_bytes: MAX_PROPERTY_BYTES }
    }
}

/// [`parse_multistatus`] with [`ParseOptions`].
pub fn parse_multistatus_with<R: BufRead>(
    reader: R,
    request_url: &Url,
    options: ParseOptions,
    mut on_response: impl FnMut(Response) -> Result<()>,
) -> Result<()> {
    let limit = RUN_FACTOR * options.max_property_bytes.max(MAX_PROPERTY_BYTES);
    let mut reader = NsReader::from_reader(Runs { inner: reader, run: 0, scanned: 0, limit });
    let mut buf = Vec::new();
    let mut parser = Parser { max_property_bytes: options.max_property_bytes, ..Parser::default() };
    let mut seen_root = false;
    let mut closed = false;
    loop {
        let (resolved, event) = reader.read_resolved_event_into(&mut buf).map_err(malformed)?;
        let namespace = match &resolved {
            ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
            _ => String::new(),
        };
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                let local = local_name(&start);
                if !seen_root {
                    if namespace != DAV || local != "multistatus" {
                        return Err(Error::new(
                            ErrorKind::Other,
                            format!("the server answered <{local}> where a DAV multistatus belongs"),
                        ));
                    }
                    (seen_root, closed) = (true, empty);
                } else {
                    parser.start(namespace, local, &start, empty)?;
                    if empty && let Some(response) = parser.end(request_url)? {
                        on_response(response)?;
                    }
                }
            }
            Event::End(_) if parser.open.is_empty() => closed = true,
            Event::End(_) => {
                parser.end_tag();
                if let Some(response) = parser.end(request_url)? {
                    on_response(response)?;
                }
            }
            Event::Text(text) => {
                let text = if options.keep_line_ends { text.decode() } else { text.xml10_content() };
                let text = text.map_err(malformed)?.into_owned();
                parser.text(&text)?;
            }
            Event::CData(data) => {
                let text = data.decode().map_err(malformed)?.into_owned();
                parser.text(&text)?;
            }
            Event::GeneralRef(reference) => {
                let text = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = reference.decode().map_err(malformed)?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                Error::new(ErrorKind::Other, format!("unknown XML entity &{name}; in a multistatus"))
                            })?
                            .to_owned()
                    }
                };
                parser.text(&text)?;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err(Error::new(ErrorKind::Other, "the server answered an empty body, not a multistatus"));
    }
    if !closed {
        return Err(Error::new(ErrorKind::Other, "the server's multistatus is cut short"));
    }
    Ok(())
}

/// A reader that fails once more than `limit` bytes pass without a `<`: the XML reader
/// buffers a whole text or tag before handing it over, so this bounds its buffer.
struct Runs<R> {
    inner: R,
    /// Bytes since the last `<`.
    run: usize,
    /// Bytes of the inner reader's current buffer already counted.
    scanned: usize,
    limit: usize,
}

impl<R: BufRead> Read for Runs<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Runs<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let Self { inner, run, scanned, limit } = self;
        let buf = inner.fill_buf()?;
        for byte in &buf[(*scanned).min(buf.len())..] {
            *run = if *byte == b'<' { 0 } else { *run + 1 };
            if *run > *limit {
                return Err(io::Error::other(format!("over {limit} bytes of one text or tag")));
            }
        }
        *scanned = buf.len();
        Ok(buf)
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.scanned = self.scanned.saturating_sub(amount);
    }
}

fn malformed(error: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Other, format!("the server's multistatus is not well-formed XML: {error}"))
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

/// Where the parse is, below `<multistatus>`.
#[derive(Default)]
struct Parser {
    /// The open elements below the root, as `(namespace, local name)`.
    open: Vec<(String, String)>,
    href: String,
    status: Option<u16>,
    properties: Vec<Property>,
    /// The properties of the current `<propstat>`, until its status is known.
    pending: Vec<Property>,
    propstat_status: Option<u16>,
    /// The property being read (an element directly under `<prop>`).
    property: Option<Property>,
    /// Text of `<href>` or `<status>`.
    scalar: String,
    /// See [`ParseOptions::max_property_bytes`].
    max_property_bytes: usize,
    /// Bytes of text and inner XML the current response's properties hold.
    response_bytes: usize,
}

impl Parser {
    /// The depth of the open element path `response/propstat/prop/PROPERTY`.
    const PROPERTY_DEPTH: usize = 4;

    fn start(&mut self, namespace: String, local: String, start: &BytesStart<'_>, empty: bool) -> Result<()> {
        if self.open.len() >= MAX_DEPTH {
            return Err(Error::new(ErrorKind::Other, format!("a multistatus nests elements over {MAX_DEPTH} deep")));
        }
        if self.open.len() >= Self::PROPERTY_DEPTH
            && let Some(property) = &mut self.property
        {
            // Prefix-free: the server's prefixes mean nothing without its declarations, so
            // each element declares its namespace as the default where it changes.
            let parent = self.open.last().filter(|_| self.open.len() > Self::PROPERTY_DEPTH).map(|(ns, _)| ns);
            let mut tag = format!("<{local}");
            if parent != Some(&namespace) && !namespace.is_empty() {
                tag.push_str(&format!(" xmlns=\"{}\"", escape_attribute(&namespace)));
            }
            for attribute in start.attributes().flatten() {
                let key = attribute.key.as_ref();
                if !key.contains(&b':') && key != b"xmlns" {
                    let value = String::from_utf8_lossy(&attribute.value);
                    tag.push_str(&format!(" {}=\"{value}\"", String::from_utf8_lossy(key)));
                }
            }
            tag.push_str(if empty { "/>" } else { ">" });
            self.response_bytes += tag.len();
            property.inner_xml.push_str(&tag);
            if self.open.len() == Self::PROPERTY_DEPTH {
                property.children.push(format!("{{{namespace}}}{local}"));
            }
            if property.inner_xml.len() > self.max_property_bytes {
                return Err(too_large(property, self.max_property_bytes));
            }
        }
        if self.response_bytes > 2 * RESPONSE_PROPERTIES * self.max_property_bytes {
            return Err(Error::new(
                ErrorKind::Other,
                format!(
                    "the properties of a multistatus response hold over {} bytes",
                    RESPONSE_PROPERTIES * self.max_property_bytes
                ),
            ));
        }
        if self.open.len() == Self::PROPERTY_DEPTH - 1 && self.in_path(&["response", "propstat", "prop"]) {
            if self.pending.len() + self.properties.len() >= MAX_PROPERTIES {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("a multistatus response has over {MAX_PROPERTIES} properties"),
                ));
            }
            self.property = Some(Property {
                namespace: namespace.clone(),
                name: local.clone(),
                status: 0,
                text: String::new(),
                inner_xml: String::new(),
                children: Vec::new(),
            });
        }
        self.scalar.clear();
        self.open.push((namespace, local));
        Ok(())
    }

    /// Whether the open path, below the root, is `path` with every element in `DAV:`.
    fn in_path(&self, path: &[&str]) -> bool {
        self.open.len() == path.len() && self.open.iter().zip(path).all(|((ns, name), want)| ns == DAV && name == want)
    }

    fn text(&mut self, text: &str) -> Result<()> {
        if self.open.len() > Self::PROPERTY_DEPTH - 1 {
            if let Some(property) = &mut self.property {
                property.text.push_str(text);
                let mut escaped = String::with_capacity(text.len());
                for c in text.chars() {
                    match c {
                        '<' => escaped.push_str("&lt;"),
                        '&' => escaped.push_str("&amp;"),
                        '>' => escaped.push_str("&gt;"),
                        c => escaped.push(c),
                    }
                }
                self.response_bytes += text.len() + escaped.len();
                property.inner_xml.push_str(&escaped);
                if property.text.len() + property.inner_xml.len() > 2 * self.max_property_bytes {
                    return Err(too_large(property, self.max_property_bytes));
                }
            }
        } else if self.scalar.len() + text.len() <= MAX_PROPERTY_BYTES {
            self.scalar.push_str(text);
        } else {
            return Err(Error::new(ErrorKind::Other, "a multistatus href or status is over 1 MiB"));
        }
        Ok(())
    }

    /// Keeps the end tag of an element below a property in the property's inner XML.
    fn end_tag(&mut self) {
        if self.open.len() > Self::PROPERTY_DEPTH
            && let (Some(property), Some((_, local))) = (&mut self.property, self.open.last())
        {
            property.inner_xml.push_str(&format!("</{local}>"));
        }
    }

    /// Closes the innermost element; returns the response it ended, if it was one.
    fn end(&mut self, request_url: &Url) -> Result<Option<Response>> {
        let Some((namespace, local)) = self.open.last().cloned() else {
            return Ok(None);
        };
        let dav = namespace == DAV;
        let depth = self.open.len();
        let mut done = None;
        if depth == Self::PROPERTY_DEPTH && self.property.is_some() {
            let property = self.property.take().expect("checked");
            self.pending.push(property);
        } else if dav && depth == 2 && local == "href" && self.open[0].1 == "response" {
            self.href = self.scalar.trim().to_owned();
        } else if dav && depth == 2 && local == "status" && self.open[0].1 == "response" {
            self.status = Some(parse_status(&self.scalar)?);
        } else if dav && depth == 3 && local == "status" && self.open[1].1 == "propstat" {
            self.propstat_status = Some(parse_status(&self.scalar)?);
        } else if dav && depth == 2 && local == "propstat" {
            let status = self.propstat_status.take().unwrap_or(200);
            for mut property in self.pending.drain(..) {
                property.status = status;
                self.properties.push(property);
            }
        } else if dav && depth == 1 && local == "response" {
            done = Some(self.finish_response(request_url)?);
        }
        self.open.pop();
        self.scalar.clear();
        Ok(done)
    }

    fn finish_response(&mut self, request_url: &Url) -> Result<Response> {
        let href = std::mem::take(&mut self.href);
        if href.is_empty() {
            return Err(Error::new(ErrorKind::Other, "a multistatus response has no href"));
        }
        let url = request_url.join(&href).map_err(|e| {
            Error::new(ErrorKind::Other, format!("the multistatus href '{href}' is not a URL reference: {e}"))
        })?;
        self.pending.clear();
        self.propstat_status = None;
        self.response_bytes = 0;
        Ok(Response { href, url, status: self.status.take(), properties: std::mem::take(&mut self.properties) })
    }
}

/// Of kind `Unsupported`, so that a caller can fetch what did not fit another way (a
/// CalDAV resource's body by GET).
fn too_large(property: &Property, max: usize) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("the property {{{}}}{} of a multistatus is over {max} bytes", property.namespace, property.name),
    )
}

/// The code of an HTTP status line (`HTTP/1.1 404 Not Found`). Anything else is an error:
/// read as success, a property the server could not give (`404 Not Found` without its
/// `HTTP/1.1`) would pass for an empty value.
fn parse_status(line: &str) -> Result<u16> {
    let mut words = line.split_whitespace();
    let code = words.next().filter(|v| v.starts_with("HTTP/")).and(words.next());
    code.and_then(|c| c.parse().ok()).filter(|c| (100..600).contains(c)).ok_or_else(|| {
        let shown: String = line.trim().chars().take(80).collect();
        Error::new(ErrorKind::Other, format!("the multistatus status line '{shown}' is not an HTTP status"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_kept_when_asked_and_hrefs_read_from_a_property() {
        let body = "<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:response>\
            <d:href>/a/e.ics</d:href><d:propstat><d:prop><c:calendar-data>BEGIN:VCALENDAR\r\nX:a &amp; b\r\n\
            </c:calendar-data><c:calendar-home-set><d:href>/a/</d:href><d:href>/b&amp;c/</d:href>\
            </c:calendar-home-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\
            </d:multistatus>";
        let url = Url::parse("http://h/a/").unwrap();
        let read = |options| {
            let mut responses = Vec::new();
            parse_multistatus_with(body.as_bytes(), &url, options, |r| {
                responses.push(r);
                Ok(())
            })
            .map(|()| responses)
        };
        let kept = ParseOptions { keep_line_ends: true, ..ParseOptions::default() };
        let data = PropName::new("urn:ietf:params:xml:ns:caldav", "calendar-data");
        assert_eq!(read(kept).unwrap()[0].text(data), Some("BEGIN:VCALENDAR\r\nX:a & b\r\n"));
        let normalized = read(ParseOptions::default()).unwrap();
        assert_eq!(normalized[0].text(data), Some("BEGIN:VCALENDAR\nX:a & b\n"));
        let homes = normalized[0].get(PropName::new("urn:ietf:params:xml:ns:caldav", "calendar-home-set")).unwrap();
        assert_eq!(homes.hrefs(), ["/a/", "/b&c/"]);
        assert!(read(ParseOptions { max_property_bytes: 8, ..kept }).is_err());
    }

    const OC: &str = "http://owncloud.org/ns";

    fn parse(body: &str, url: &str) -> Result<Vec<Response>> {
        let mut responses = Vec::new();
        parse_multistatus(body.as_bytes(), &Url::parse(url).unwrap(), |r| {
            responses.push(r);
            Ok(())
        })?;
        Ok(responses)
    }

    #[test]
    fn propfind_bodies_declare_each_namespace_once() {
        let body = propfind_body(&[
            PropName::new(DAV, "getetag"),
            PropName::new(OC, "checksums"),
            PropName::new(DAV, "resourcetype"),
            PropName::new(OC, "fileid"),
        ]);
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><d:propfind xmlns:d=\"DAV:\" \
             xmlns:n1=\"http://owncloud.org/ns\"><d:prop><d:getetag/><n1:checksums/>\
             <d:resourcetype/><n1:fileid/></d:prop></d:propfind>"
        );
        let all = propfind_allprop_body(&[PropName::new(OC, "fileid")]);
        assert!(all.ends_with("><d:allprop/><d:include><n1:fileid/></d:include></d:propfind>"), "{all}");
        assert!(propfind_body(&[]).ends_with("<d:propfind xmlns:d=\"DAV:\"><d:allprop/></d:propfind>"));
    }

    #[test]
    fn multistatus_responses_are_parsed_with_namespaces_and_statuses() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:x="http://owncloud.org/ns">
 <D:response>
  <D:href>/dav/a%20dir/</D:href>
  <D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>
   <D:displayname>a &amp; b &#233;</D:displayname>
   <x:nested a="1" D:b="2"><x:in><D:deep/></x:in></x:nested></D:prop>
   <D:status>HTTP/1.1 200 OK</D:status></D:propstat>
  <D:propstat><D:prop><x:checksums/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>
 </D:response>
 <response xmlns="DAV:">
  <href>caf%C3%A9%23%3F.txt</href>
  <propstat><prop><resourcetype/><getcontentlength>12</getcontentlength>
   <x:share-types><x:share-type>0</x:share-type><x:share-type>3</x:share-type></x:share-types>
   <getetag><![CDATA["e<1>"]]></getetag></prop>
  <status>HTTP/1.1 200 OK</status></propstat>
 </response>
 <D:response><D:href>http://h:1/dav/gone</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
</D:multistatus>"#;
        let responses = parse(body, "http://h:1/dav/a%20dir/").unwrap();
        assert_eq!(responses.len(), 3);
        let dir = &responses[0];
        assert!(dir.is_collection());
        assert_eq!(dir.decoded_path(), b"/dav/a dir/");
        assert_eq!(dir.text(PropName::new(DAV, "displayname")), Some("a & b é"));
        assert_eq!(dir.get(PropName::new(OC, "checksums")), None, "a 404 property is not served");
        assert_eq!(
            dir.get(PropName::new(OC, "nested")).unwrap().inner_xml,
            "<in xmlns=\"http://owncloud.org/ns\"><deep xmlns=\"DAV:\"/></in>"
        );
        assert_eq!(dir.properties.iter().find(|p| p.name == "checksums").unwrap().status, 404);
        let file = &responses[1];
        assert!(!file.is_collection());
        assert_eq!(file.url.as_str(), "http://h:1/dav/a%20dir/caf%C3%A9%23%3F.txt");
        assert_eq!(String::from_utf8(file.decoded_path()).unwrap(), "/dav/a dir/café#?.txt");
        assert_eq!(file.text(PropName::new(DAV, "getcontentlength")), Some("12"));
        assert_eq!(file.text(PropName::new(DAV, "getetag")), Some("\"e<1>\""));
        let shares = file.get(PropName::new(OC, "share-types")).unwrap();
        assert_eq!(
            shares.inner_xml,
            "<share-type xmlns=\"http://owncloud.org/ns\">0</share-type>\
             <share-type xmlns=\"http://owncloud.org/ns\">3</share-type>"
        );
        assert_eq!(shares.children, ["{http://owncloud.org/ns}share-type", "{http://owncloud.org/ns}share-type"]);
        assert_eq!(responses[2].status, Some(404));
        assert!(responses[2].properties.is_empty());
    }

    #[test]
    fn what_is_not_a_multistatus_is_refused() {
        let url = "http://h/";
        assert!(parse("<html><body>login</body></html>", url).unwrap_err().to_string().contains("<html>"));
        assert!(parse("", url).is_err());
        assert!(parse("<D:multistatus xmlns:D=\"DAV:\"/>", url).unwrap().is_empty());
        assert!(parse("<D:multistatus xmlns:D=\"DAV:\"><D:response>", url).is_err());
        assert!(parse("<D:multistatus xmlns:D=\"DAV:\"><D:response></D:response></D:multistatus>", url).is_err());
    }

    #[test]
    fn a_malformed_status_line_stops_the_parse() {
        for status in ["404 Not Found", "HTTP/1.1 abc", "garbage", "HTTP/1.1 9999 X"] {
            let body = format!(
                "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/a</D:href><D:propstat><D:prop>\
                 <D:getetag/></D:prop><D:status>{status}</D:status></D:propstat></D:response></D:multistatus>"
            );
            let error = parse(&body, "http://h/").unwrap_err().to_string();
            assert!(error.contains(status), "{status}: {error}");
            let body = format!(
                "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/a</D:href><D:status>{status}</D:status>\
                 </D:response></D:multistatus>"
            );
            assert!(parse(&body, "http://h/").is_err(), "{status}");
        }
    }

    #[test]
    fn entities_a_document_declares_are_never_expanded() {
        let body = r#"<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href><D:propstat><D:prop><D:getetag>&c;&c;&c;</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#;
        match parse(body, "http://h/") {
            Ok(responses) => assert!(responses[0].properties.iter().all(|p| p.text.len() < 100)),
            Err(error) => assert!(error.to_string().contains("multistatus"), "{error}"),
        }
    }

    #[test]
    fn oversized_properties_stop_the_parse() {
        let huge = "x".repeat(MAX_PROPERTY_BYTES + 1);
        let body = format!(
            "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/a</D:href><D:propstat><D:prop>\
             <D:displayname>{huge}</D:displayname></D:prop></D:propstat></D:response></D:multistatus>"
        );
        assert!(parse(&body, "http://h/").unwrap_err().to_string().contains("displayname"));
    }

    #[test]
    fn deep_nesting_huge_responses_and_huge_tags_stop_the_parse() {
        let deep = format!("<D:multistatus xmlns:D=\"DAV:\">{}", "<x>".repeat(100_000));
        assert!(parse(&deep, "http://h/").unwrap_err().to_string().contains("deep"), "the nesting is bounded");
        let half = "y".repeat(MAX_PROPERTY_BYTES / 2);
        let many: String = (0..RESPONSE_PROPERTIES * 2 + 2).map(|i| format!("<D:p{i}>{half}</D:p{i}>")).collect();
        let wide = format!(
            "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/a</D:href><D:propstat><D:prop>{many}\
             <D:last/></D:prop></D:propstat></D:response></D:multistatus>"
        );
        assert!(parse(&wide, "http://h/").unwrap_err().to_string().contains("hold over"), "a response is bounded");
        let run = RUN_FACTOR * MAX_PROPERTY_BYTES + 1;
        let tag = format!("<D:multistatus xmlns:D=\"DAV:\"><D:response a=\"{}\"/></D:multistatus>", "z".repeat(run));
        assert!(parse(&tag, "http://h/").unwrap_err().to_string().contains("text or tag"), "a tag is bounded");
    }

    #[test]
    fn the_callback_sees_each_response_before_the_next_is_read() {
        let mut body = String::from("<D:multistatus xmlns:D=\"DAV:\">");
        for i in 0..3 {
            body.push_str(&format!("<D:response><D:href>/f{i}</D:href></D:response>"));
        }
        let mut seen = 0;
        let result = parse_multistatus(body.as_bytes(), &Url::parse("http://h/").unwrap(), |r| {
            seen += 1;
            if r.href == "/f1" { Err(Error::new(ErrorKind::Other, "stop")) } else { Ok(()) }
        });
        assert!(result.is_err());
        assert_eq!(seen, 2, "the parse stopped at the callback's error, and the document was not complete");
    }
}
