"""Seeds a CalDAV/CardDAV server through its own protocol (MKCALENDAR, extended MKCOL, PUT)
with what real calendars and address books hold: recurring events with exceptions, time
zones, attendees, alarms, inline attachments, all-day events, tasks, vCard 3.0 and 4.0 with
photos, non-ASCII names, several collections per kind, one resource too large to travel
inside a listing. Standard library only.

    seed_dav.py BASE_URL USER PASSWORD CA_FILE|- CALENDAR_HOME ADDRESSBOOK_HOME [--big]

--big adds the resource above the inline cap (Radicale takes seconds to parse one).

Prints, as JSON, the collections it made: {"calendars": {href: count}, "addressbooks": …}.
"""

import base64
import json
import ssl
import sys
import urllib.error
import urllib.request
from urllib.parse import quote

base, user, password, ca, cal_home, card_home = sys.argv[1:7]
with_big = "--big" in sys.argv[7:]
context = ssl.create_default_context(cafile=None if ca == "-" else ca)
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def send(method, path, body=b"", content_type="application/xml; charset=utf-8", ok=(200, 201, 204)):
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", auth)
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code in ok:
            return error.code
        raise SystemExit(f"{method} {path}: {error.code} {error.read()[:300]!r}")


def props(name, color=None, description=None):
    extra = f"<I:calendar-color>{color}</I:calendar-color>" if color else ""
    if description:
        extra += f"<C:calendar-description>{description}</C:calendar-description>"
    return f"<D:displayname>{name}</D:displayname>{extra}"


def mkcalendar(href, name, components, color, description, timezone=None):
    comps = "".join(f'<C:comp name="{c}"/>' for c in components)
    tz = f"<C:calendar-timezone><![CDATA[{timezone}]]></C:calendar-timezone>" if timezone else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
        'xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>'
        f"{props(name, color, description)}<C:supported-calendar-component-set>{comps}"
        f"</C:supported-calendar-component-set>{tz}</D:prop></D:set></C:mkcalendar>"
    )
    send("MKCALENDAR", href, body.encode())


def mkaddressbook(href, name, description):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:mkcol xmlns:D="DAV:" xmlns:A="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>'
        "<D:resourcetype><D:collection/><A:addressbook/></D:resourcetype>"
        f"<D:displayname>{name}</D:displayname><A:addressbook-description>{description}"
        "</A:addressbook-description></D:prop></D:set></D:mkcol>"
    )
    send("MKCOL", href, body.encode())


def crlf(text):
    return "\r\n".join(text.strip("\n").split("\n")).encode() + b"\r\n"


def folded(line):
    """An iCalendar/vCard content line folded at 75 octets, as RFC 5545 wants."""
    return "\n ".join([line[:75]] + [line[i : i + 74] for i in range(75, len(line), 74)])


PARIS = """BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def calendar(body, tz=False):
    timezone = PARIS + "\n" if tz else ""
    return crlf(f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Sortie tests//seed_dav//EN\n{timezone}{body}\nEND:VCALENDAR")


def photo(seed, size):
    data = bytes((seed * 31 + i * 7) % 256 for i in range(size))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + data).decode()


weekly = calendar(
    f"""BEGIN:VEVENT
UID:weekly-standup@sortie.test
DTSTAMP:20260101T090000Z
DTSTART;TZID=Europe/Paris:20260105T093000
DTEND;TZID=Europe/Paris:20260105T100000
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=20
EXDATE;TZID=Europe/Paris:20260119T093000
SUMMARY:Réunion d'équipe — café ☕
ORGANIZER;CN=Zoë Ñúñez:mailto:zoe@sortie.test
ATTENDEE;CN=Jürgen Groß;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:jurgen@sortie.test
ATTENDEE;CN=李小龙;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:li@sortie.test
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Rappel
TRIGGER:-PT15M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:weekly-standup@sortie.test
DTSTAMP:20260101T090000Z
RECURRENCE-ID;TZID=Europe/Paris:20260112T093000
DTSTART;TZID=Europe/Paris:20260112T140000
DTEND;TZID=Europe/Paris:20260112T143000
SUMMARY:Réunion d'équipe (déplacée)
END:VEVENT""",
    tz=True,
)
attachment = base64.b64encode(b"%PDF-1.4\n" + bytes(range(256)) * 8).decode()
with_attachment = calendar(
    "BEGIN:VEVENT\nUID:review@sortie.test\nDTSTAMP:20260101T090000Z\nDTSTART:20260210T130000Z\n"
    "DTEND:20260210T140000Z\nSUMMARY:Quarterly review\n"
    + folded(f"ATTACH;FMTTYPE=application/pdf;ENCODING=BASE64;VALUE=BINARY;X-FILENAME=slides.pdf:{attachment}")
    + "\nBEGIN:VALARM\nACTION:AUDIO\nTRIGGER;RELATED=START:-P1D\nEND:VALARM\nEND:VEVENT"
)
all_day = calendar(
    "BEGIN:VEVENT\nUID:holiday@sortie.test\nDTSTAMP:20260101T090000Z\nDTSTART;VALUE=DATE:20260714\n"
    "DTEND;VALUE=DATE:20260715\nSUMMARY:Fête nationale\nTRANSP:TRANSPARENT\nEND:VEVENT"
)
# Above the 4 MiB a listing may carry: fetched by GET.
big = calendar(
    "BEGIN:VEVENT\nUID:big@sortie.test\nDTSTAMP:20260101T090000Z\nDTSTART:20260301T080000Z\n"
    "SUMMARY:Large attachment\n"
    + folded("ATTACH;ENCODING=BASE64;VALUE=BINARY:" + base64.b64encode(bytes(range(256)) * 12500).decode())
    + "\nEND:VEVENT"
)
task = calendar(
    "BEGIN:VTODO\nUID:todo-1@sortie.test\nDTSTAMP:20260101T090000Z\nDUE;VALUE=DATE:20260401\n"
    "SUMMARY:Déclarer les impôts\nSTATUS:NEEDS-ACTION\nPRIORITY:1\nEND:VTODO"
)
task_done = calendar(
    "BEGIN:VTODO\nUID:todo-2@sortie.test\nDTSTAMP:20260101T090000Z\nCOMPLETED:20260102T100000Z\n"
    "SUMMARY:Buy milk\nSTATUS:COMPLETED\nEND:VTODO"
)

vcard3 = crlf(
    "BEGIN:VCARD\nVERSION:3.0\nUID:zoe@sortie.test\nFN:Zoë Ñúñez\nN:Ñúñez;Zoë;;;\n"
    "EMAIL;TYPE=INTERNET:zoe@sortie.test\nTEL;TYPE=CELL:+33 6 12 34 56 78\n"
    + folded(f"PHOTO;ENCODING=b;TYPE=PNG:{photo(1, 3000)}")
    + "\nEND:VCARD"
)
vcard4 = crlf(
    "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:6f1c5c7e-0000-4000-8000-000000000004\nFN:李小龙\n"
    "N:李;小龙;;;\nKIND:individual\nADR;TYPE=home:;;1 rue de la Paix;Paris;;75002;France\n"
    + folded(f"PHOTO:data:image/png;base64,{photo(2, 2000)}")
    + "\nEND:VCARD"
)
vcard_plain = crlf("BEGIN:VCARD\nVERSION:3.0\nUID:jurgen@sortie.test\nFN:Jürgen Groß\nN:Groß;Jürgen;;;\nEND:VCARD")

calendars = {
    "work": ("Travail — été", ["VEVENT"], "#FF8800FF", "Réunions et revues", True, [
        ("weekly-standup.ics", weekly),
        ("review.ics", with_attachment),
    ] + ([("big-attachment.ics", big)] if with_big else [])),
    "home": ("Maison", ["VEVENT"], "#0088FFFF", "Jours fériés", False, [
        ("fête nationale.ics", all_day),
    ]),
    "tasks": ("Tâches", ["VTODO"], None, None, False, [
        ("todo-1.ics", task),
        ("todo-2.ics", task_done),
    ]),
}
addressbooks = {
    "contacts": ("Contacts — amis", [("zoe.vcf", vcard3), ("li.vcf", vcard4)]),
    "work-contacts": ("Collègues", [("jurgen.vcf", vcard_plain)]),
}

seeded = {"calendars": {}, "addressbooks": {}}
for home in {cal_home, card_home}:
    send("MKCOL", home, ok=(201, 405))
for name, (display, comps, color, description, tz, items) in calendars.items():
    href = f"{cal_home}{name}/"
    timezone = calendar(PARIS).decode() if tz else None
    mkcalendar(href, display, comps, color, description, timezone)
    for file, body in items:
        send("PUT", href + quote(file), body, "text/calendar; charset=utf-8")
    seeded["calendars"][href] = len(items)
for name, (display, items) in addressbooks.items():
    href = f"{card_home}{name}/"
    mkaddressbook(href, display, "Carnet " + display)
    for file, body in items:
        send("PUT", href + quote(file), body, "text/vcard; charset=utf-8")
    seeded["addressbooks"][href] = len(items)
print(json.dumps(seeded))
