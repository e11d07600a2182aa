//! What differs between calendars (CalDAV, RFC 4791) and address books (CardDAV, RFC
//! 6352): names, namespaces and file extensions; the protocol is otherwise the same.

use sortie_sdk::item::Kind;

use crate::props::{CALDAV, CARDDAV};

/// Calendars or address books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Calendars,
    AddressBooks,
}

impl Flavor {
    pub fn scheme(self) -> &'static str {
        match self {
            Flavor::Calendars => "caldav",
            Flavor::AddressBooks => "carddav",
        }
    }

    /// The RFC 6764 well-known path.
    pub fn well_known(self) -> &'static str {
        match self {
            Flavor::Calendars => "/.well-known/caldav",
            Flavor::AddressBooks => "/.well-known/carddav",
        }
    }

    /// The namespace of the flavor's own elements.
    pub fn ns(self) -> &'static str {
        match self {
            Flavor::Calendars => CALDAV,
            Flavor::AddressBooks => CARDDAV,
        }
    }

    /// The principal property naming where the collections are.
    pub fn home_set(self) -> &'static str {
        match self {
            Flavor::Calendars => "calendar-home-set",
            Flavor::AddressBooks => "addressbook-home-set",
        }
    }

    /// The resource type of a collection.
    pub fn collection_type(self) -> &'static str {
        match self {
            Flavor::Calendars => "calendar",
            Flavor::AddressBooks => "addressbook",
        }
    }

    /// The REPORT that fetches resources by href, and the property holding their bodies.
    pub fn multiget(self) -> (&'static str, &'static str) {
        match self {
            Flavor::Calendars => ("calendar-multiget", "calendar-data"),
            Flavor::AddressBooks => ("addressbook-multiget", "address-data"),
        }
    }

    /// The extension of a resource file in a vdir.
    pub fn extension(self) -> &'static str {
        match self {
            Flavor::Calendars => ".ics",
            Flavor::AddressBooks => ".vcf",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Flavor::Calendars => Kind::Event,
            Flavor::AddressBooks => Kind::Contact,
        }
    }

    /// What a collection is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Flavor::Calendars => "calendar",
            Flavor::AddressBooks => "address book",
        }
    }
}
