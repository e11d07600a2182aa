//! What the CalDAV and CardDAV providers read in a multistatus (parsed by
//! `sortie_http::dav`): their namespaces, and small questions about a response.

use quick_xml::Reader;
use quick_xml::events::Event;
use sortie_http::dav::{DAV, PropName, Property, Response};

/// The CalDAV namespace (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// The CardDAV namespace (RFC 6352).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// Apple's namespace, for `calendar-color` and `calendar-order`.
pub const APPLE: &str = "http://apple.com/ns/ical/";
/// CalendarServer's namespace, for `getctag`.
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

/// The trimmed text of a found property, when not empty.
pub fn text<'a>(response: &'a Response, ns: &str, name: &str) -> Option<&'a str> {
    response.text(PropName::new(ns, name)).map(str::trim).filter(|t| !t.is_empty())
}

/// Whether the resource type holds `ns`:`name` (`DAV:collection`, `caldav:calendar`).
pub fn is(response: &Response, ns: &str, name: &str) -> bool {
    let wanted = format!("{{{ns}}}{name}");
    response.get(PropName::new(DAV, "resourcetype")).is_some_and(|p| p.children.contains(&wanted))
}

/// The `name` attributes of the elements directly inside a property (a component set's
/// `<comp name="VEVENT"/>`), when every one has one.
pub fn names(property: &Property) -> Option<Vec<String>> {
    let mut reader = Reader::from_str(&property.inner_xml);
    let (mut names, mut depth) = (Vec::new(), 0usize);
    loop {
        let (start, empty) = match reader.read_event().ok()? {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        if depth == 0 {
            let value = start.try_get_attribute("name").ok().flatten()?;
            names.push(value.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()?.into_owned());
        }
        if !empty {
            depth += 1;
        }
    }
    (!names.is_empty()).then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(inner_xml: &str) -> Property {
        let body = format!(
            "<d:multistatus xmlns:d=\"DAV:\" xmlns:c=\"{CALDAV}\"><d:response><d:href>/c/</d:href><d:propstat>\
             <d:prop><c:x>{inner_xml}</c:x></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>\
             </d:response></d:multistatus>"
        );
        let mut found = None;
        let url = reqwest::Url::parse("http://h/c/").unwrap();
        sortie_http::dav::parse_multistatus(body.as_bytes(), &url, |r| {
            found = r.properties.into_iter().next();
            Ok(())
        })
        .unwrap();
        found.unwrap()
    }

    #[test]
    fn component_names_are_read_from_their_attributes() {
        let set = property("<c:comp name=\"VEVENT\"/><c:comp name=\"VTODO\"></c:comp>");
        assert_eq!(names(&set), Some(vec!["VEVENT".to_owned(), "VTODO".to_owned()]));
        assert_eq!(names(&property("<d:href>/a/</d:href>")), None);
        assert_eq!(names(&property("text")), None);
    }
}
