//! A WebDAV multistatus answer (RFC 4918 §13), read with quick-xml: every response's
//! href and status, and every property with its own status. A property's text is kept
//! exactly as the server wrote it, entities resolved but line ends untouched (an XML
//! parser would turn the CRLFs of a `calendar-data` into LFs): a multiget's bodies are then
//! byte for byte what a GET returns.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// The DAV namespace.
pub const DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// The CardDAV namespace (RFC 6352).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// Apple's namespace, for `calendar-color` and `calendar-order`.
pub const APPLE: &str = "http://apple.com/ns/ical/";
/// CalendarServer's namespace, for `getctag`.
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

/// One `<response>`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Response {
    /// The `<href>`, as served (percent-encoded).
    pub href: String,
    /// The response's own status, when it has one instead of propstats (a 404 in a
    /// multiget), as a number.
    pub status: Option<u16>,
    /// Every property of every `<propstat>`.
    pub props: Vec<Prop>,
}

/// One property of a `<propstat>`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Prop {
    /// Its namespace.
    pub ns: String,
    /// Its local name.
    pub name: String,
    /// Its propstat's status (200 when found).
    pub status: u16,
    /// The text directly inside it, entities resolved, line ends as served.
    pub text: String,
    /// The `<href>`s inside it (a home set, a principal).
    pub hrefs: Vec<String>,
    /// The elements directly inside it (a resource type's `calendar`, a component set's
    /// `comp`).
    pub children: Vec<Child>,
    /// Its content as the server wrote it (an ACL), for the archive.
    pub inner: String,
}

impl Response {
    /// The property `ns`:`name`, when the server found it (status 200).
    pub fn prop(&self, ns: &str, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.status == 200 && p.ns == ns && p.name == name)
    }

    /// The trimmed text of a found property, when not empty.
    pub fn text(&self, ns: &str, name: &str) -> Option<&str> {
        self.prop(ns, name).map(|p| p.text.trim()).filter(|t| !t.is_empty())
    }

    /// Whether the resource type holds `ns`:`name` (`DAV:collection`, `caldav:calendar`).
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.prop(DAV, "resourcetype").is_some_and(|p| p.children.iter().any(|c| c.ns == ns && c.name == name))
    }
}

/// An element directly inside a property.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Child {
    /// Its namespace.
    pub ns: String,
    /// Its local name.
    pub name: String,
    /// Its `name` attribute, when it has one (a component set's `VEVENT`).
    pub name_attribute: Option<String>,
}

/// Where the parser is, by depth under `<multistatus>`.
#[derive(Default)]
struct Current {
    response: Response,
    /// Properties of the open propstat, waiting for its status.
    pending: Vec<Prop>,
    /// The open propstat's status, which may come before or after its properties.
    propstat_status: u16,
    prop: Option<Prop>,
    /// The buffer position just after the open property's start tag.
    inner_start: usize,
    /// The text of the `<href>` or `<status>` being read.
    text: String,
}

/// Parses a multistatus body; `None` when it is not one (an HTML error page).
pub fn parse(body: &[u8]) -> Option<Vec<Response>> {
    let mut reader = NsReader::from_reader(body);
    let mut path: Vec<(String, String)> = Vec::new();
    let mut responses = Vec::new();
    let mut current = Current::default();
    let mut seen_multistatus = false;
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = reader.read_resolved_event().ok()?;
        let ns = match ns {
            ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let empty = matches!(event, Event::Empty(_));
                let depth = path.len();
                if depth == 0 {
                    seen_multistatus = ns == DAV && name == "multistatus";
                    if !seen_multistatus {
                        return None;
                    }
                }
                if depth == 4 && path[3].1 == "prop" {
                    current.prop = Some(Prop { ns: ns.clone(), name: name.clone(), ..Prop::default() });
                    current.inner_start = reader.buffer_position() as usize;
                } else if depth == 5
                    && let Some(prop) = current.prop.as_mut()
                {
                    let attribute = start.try_get_attribute("name").ok().flatten();
                    let name_attribute = attribute
                        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                        .map(|v| v.into_owned());
                    prop.children.push(Child { ns: ns.clone(), name: name.clone(), name_attribute });
                }
                if empty {
                    end_element(&mut current, &mut responses, &path, &ns, &name, body, before);
                } else {
                    path.push((ns, name));
                }
            }
            Event::End(_) => {
                let (ns, name) = path.pop()?;
                end_element(&mut current, &mut responses, &path, &ns, &name, body, before);
            }
            Event::Text(text) => append(&mut current, &path, &text.decode().ok()?),
            Event::CData(data) => append(&mut current, &path, &data.decode().ok()?),
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().ok()? {
                    Some(ch) => ch.to_string(),
                    None => quick_xml::escape::resolve_xml_entity(&reference.decode().ok()?)?.to_owned(),
                };
                append(&mut current, &path, &resolved);
            }
            Event::Eof => return seen_multistatus.then_some(responses),
            _ => {}
        }
    }
}

/// Text inside a property (direct text, or an href in it), or inside a response's or
/// propstat's `<href>`/`<status>`.
fn append(current: &mut Current, path: &[(String, String)], text: &str) {
    let depth = path.len();
    match (&mut current.prop, depth) {
        (Some(prop), 5) => prop.text.push_str(text),
        (Some(_), d) if d >= 6 && path[d - 1].1 == "href" => current.text.push_str(text),
        (None, 3 | 4) => current.text.push_str(text),
        _ => {}
    }
}

/// An element `ns`:`name` closes; `path` is what is still open around it, `before` the
/// buffer position of its end tag.
fn end_element(
    current: &mut Current,
    responses: &mut Vec<Response>,
    path: &[(String, String)],
    ns: &str,
    name: &str,
    body: &[u8],
    before: usize,
) {
    let depth = path.len();
    let text = std::mem::take(&mut current.text);
    match (depth, ns == DAV, name) {
        (1, true, "response") => responses.push(std::mem::take(&mut current.response)),
        (2, true, "href") => current.response.href = text.trim().to_owned(),
        (2, true, "status") => current.response.status = status_code(&text),
        (2, true, "propstat") => {
            let status = std::mem::take(&mut current.propstat_status);
            for mut prop in current.pending.drain(..) {
                prop.status = status;
                current.response.props.push(prop);
            }
        }
        (3, true, "status") if path[2].1 == "propstat" => current.propstat_status = status_code(&text).unwrap_or(0),
        (4, _, _) => {
            if let Some(mut prop) = current.prop.take() {
                let end = before.max(current.inner_start);
                prop.inner = String::from_utf8_lossy(&body[current.inner_start.min(end)..end]).into_owned();
                current.pending.push(prop);
            }
        }
        (d, true, "href") if d >= 5 => {
            if let Some(prop) = current.prop.as_mut() {
                prop.hrefs.push(text.trim().to_owned());
            }
        }
        _ => {}
    }
}

/// `HTTP/1.1 404 Not Found` → 404.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_their_line_ends_and_statuses_find_their_properties() {
        let body = "<?xml version='1.0'?>\n<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\">\
            <d:response><d:href>/a/x%20y.ics</d:href><d:propstat><d:status>HTTP/1.1 200 OK</d:status><d:prop>\
            <d:getetag>\"e1\"</d:getetag><c:calendar-data>BEGIN:VCALENDAR\r\nSUMMARY:a &amp; b&#13;\n\
            END:VCALENDAR\r\n</c:calendar-data><d:resourcetype><d:collection/><c:calendar/></d:resourcetype>\
            </d:prop></d:propstat><d:propstat><d:prop><d:acl/></d:prop><d:status>HTTP/1.1 403 Forbidden</d:status>\
            </d:propstat></d:response><d:response><d:href>/a/gone.ics</d:href>\
            <d:status>HTTP/1.1 404 Not Found</d:status></d:response></d:multistatus>";
        let responses = parse(body.as_bytes()).unwrap();
        assert_eq!(responses.len(), 2);
        let first = &responses[0];
        assert_eq!(first.href, "/a/x%20y.ics");
        let data = first.prop(CALDAV, "calendar-data").unwrap();
        assert_eq!(data.text, "BEGIN:VCALENDAR\r\nSUMMARY:a & b\r\nEND:VCALENDAR\r\n");
        assert_eq!(first.text(DAV, "getetag"), Some("\"e1\""));
        assert!(first.is(DAV, "collection") && first.is(CALDAV, "calendar"));
        assert_eq!(first.props.iter().find(|p| p.name == "acl").unwrap().status, 403);
        assert!(first.prop(DAV, "acl").is_none());
        assert_eq!(responses[1].status, Some(404));
        assert!(parse(b"<html><body>no</body></html>").is_none());
    }
}
