"""The OVHcloud account the test server serves: every answer of every GET route, completed
and validated against OVH's models at seed time (`Account.put`), the files behind the
`pdfUrl`s and dump URLs, and the services that are suspended. Deterministic: the same
options give the same account, byte for byte (what a cross-check and a rerun rely on).
"""

import datetime
import gzip
import hashlib
import io
import re
import uuid
from urllib.parse import quote

from schema import SchemaError, split_path

NIC = "xx1111-ovh"
PROJECT = "5f0c3b1e9a7d4c2b8e6f1a0d3c5b7e9f"
EXPIRED_DOMAIN = "expired-example.net"
HOSTINGS = ("hosting-1.cluster.example", "hosting-2.cluster.example")
PRIVATE_DB = "sql-1"
EMAIL_DOMAIN = "example-0.com"
VPS = "vps-1.example"
DEDICATED = "ns1.example"
LOGS = "ldp-1"
EXCHANGE = "hosted-xx11111-1"
LOGS_STREAM = "4b2d6c9e-1f3a-4e5b-8c7d-9a0b1c2d3e4f"
LOGS_ARCHIVE = "7e8f9a0b-1c2d-4e3f-8a5b-6c7d8e9f0a1b"


def token(*parts):
    """A stable, URL-safe secret of a download (as OVH's `passwd=` query parameters)."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:16]


def day(n):
    """An ISO date n days after 2025-01-01 (fixture dates, stable)."""
    return (datetime.date(2025, 1, 1) + datetime.timedelta(days=n)).isoformat()


def stamp(n, hour=10):
    return f"{day(n)}T{hour:02d}:00:00+01:00"


def price(value):
    return {"currencyCode": "EUR", "priceInUcents": int(round(value * 100_000_000)), "text": f"{value:.2f} €", "value": value}


def pdf(title, lines):
    """A small valid PDF (one page, Helvetica text) whose bytes depend on `title` and `lines`."""
    text = "BT /F1 12 Tf 72 770 Td 14 TL " + " ".join(
        "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for s in [title, *lines]
    ) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("latin-1", "replace")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def sql_dump(database, size):
    """A gzip'd SQL dump of about `size` uncompressed bytes (gzip mtime 0: stable bytes)."""
    lines = [f"-- dump of {database}\nCREATE TABLE t (id INT PRIMARY KEY, v TEXT);\n"]
    total, i = len(lines[0]), 0
    while total < size:
        line = f"INSERT INTO t VALUES ({i}, '{hashlib.sha1(f'{database}{i}'.encode()).hexdigest()}');\n"
        lines.append(line)
        total += len(line)
        i += 1
    return gzip.compress("".join(lines).encode(), mtime=0)


def path(*segments):
    """The request path of `segments` (each percent-encoded: an IP block's `/` becomes `%2F`)."""
    return "/" + "/".join(quote(str(s), safe="@:+,=") for s in segments)


class Account:
    def __init__(self, api, downloads_url, opts):
        self.api = api
        self.base = downloads_url
        self.opts = opts
        self.store = {}
        self.history = {}
        self.files = {}
        self.suspended = []
        self.next_id = 1000
        self.services = []
        self.build()

    # -- seeding helpers ----------------------------------------------------------------

    def put(self, p, partial=None):
        """Stores the answer of `GET p`, completed and validated against the route's model."""
        segments = split_path(p)
        route, _ = self.api.route(segments)
        if route is None or "GET" not in route.operations:
            raise SchemaError(f"the fixture puts {p}, which is no GET route of the API descriptions")
        rtype = route.operations["GET"]["responseType"]
        value = self.api.fill(rtype, partial, route.section, p)
        self.api.validate(rtype, value, route.section, p)
        self.set(segments, value)
        return value

    def set(self, segments, value):
        """Replaces an answer, keeping the one it replaces: an export that read it before an
        async task changed it (a dump list, a task's status) held what the API said then."""
        old = self.store.get(segments)
        if old is not None and old != value:
            self.history.setdefault(segments, []).append(old)
        self.store[segments] = value

    def append(self, segments, item):
        """Adds `item` to the id list at `segments`."""
        self.set(segments, (self.store.get(segments) or []) + [item])

    def collection(self, p, items):
        """`GET p` lists the ids of `items` (id → partial object), each at `p/id`."""
        self.put(p, list(items))
        for key, partial in items.items():
            self.put(f"{p}/{quote(str(key), safe='@:+,=')}", partial)

    def download(self, kind, name, body, content_type):
        """A file served at /download/KIND/NAME?passwd=…; returns its URL."""
        secret = token(kind, name)
        self.files[f"/download/{kind}/{name}"] = (content_type, body, secret)
        return f"{self.base}/download/{kind}/{quote(name)}?passwd={secret}"

    def service(self, route, name, plan):
        """A billed service (`/services/{id}`) whose route `route` has `name` for every variable."""
        sid = 10_000 + len(self.services)
        variables = re.findall(r"\{([^}]+)\}", route)
        self.services.append(
            (sid, {
                "serviceId": sid,
                "resource": {"name": name, "displayName": name, "state": "active"},
                "route": {"path": route, "url": re.sub(r"\{[^}]+\}", name, route),
                          "vars": [{"key": v, "value": name} for v in variables]},
                "billing": {
                    "plan": {"code": plan, "invoiceName": plan},
                    "expirationDate": stamp(400),
                    "nextBillingDate": stamp(370),
                },
            })
        )
        return sid

    def root(self, listing, name, plan, record, var="serviceName"):
        """The account's one service of a kind: `listing` lists `name`, whose record is at
        `listing/name`, billed under `plan`; returns (its path, its service id)."""
        sid = self.service(f"{listing}/{{{var}}}", name, plan)
        self.put(listing, [name])
        self.put(f"{listing}/{name}", record)
        return f"{listing}/{name}", sid

    def service_infos(self, p, domain, sid, status="ok"):
        self.put(p + "/serviceInfos", {
            "domain": domain, "serviceId": sid, "status": status, "contactAdmin": NIC, "contactBilling": NIC,
            "contactTech": NIC, "creation": day(0), "expiration": day(400), "renewalType": "automaticV2016",
        })

    # -- the account ----------------------------------------------------------------------

    def build(self):
        self.build_me()
        self.build_billing()
        self.build_domains()
        self.build_hosting()
        self.build_private_database()
        self.build_email()
        self.build_exchange()
        self.build_cloud()
        self.build_ip_vps_dedicated_logs()
        self.build_support()
        self.build_services()

    def build_me(self):
        self.put("/me", {
            "nichandle": NIC, "email": "alice@example-0.com", "firstname": "Alice", "name": "Martin",
            "country": "FR", "currency": {"code": "EUR", "symbol": "EURO"}, "legalform": "individual",
            "ovhCompany": "ovh", "ovhSubsidiary": "FR", "state": "complete", "address": "1 rue de l'Exemple",
            "city": "Roubaix", "zip": "59100", "language": "fr_FR", "phone": "+33.123456789",
        })
        self.collection("/me/contact", {
            1: {"id": 1, "email": "alice@example-0.com", "firstName": "Alice", "lastName": "Martin",
                "language": "fr_FR", "legalForm": "individual",
                "address": {"line1": "1 rue de l'Exemple", "city": "Roubaix", "zip": "59100", "country": "FR"}},
        })
        agreements = {}
        for i, name in enumerate(("General Terms of Service", "Data Processing Agreement"), 1):
            agreements[i] = {"id": i, "contractId": 100 + i, "agreed": "ok", "date": stamp(i)}
        self.collection("/me/agreements", agreements)
        for i, name in enumerate(("General Terms of Service", "Data Processing Agreement"), 1):
            url = self.download("contract", f"contract-{100 + i}.pdf", pdf(name, ["version 2025", f"contract {100 + i}"]), "application/pdf")
            self.put(f"/me/agreements/{i}/contract", {"name": name, "pdf": url, "text": f"{name}: the full text.", "active": True, "date": day(i)})
        self.put("/me/consent", [{"name": "OVH_NEWSLETTER", "description": "Newsletter", "type": "OPTIN"}])
        self.put("/me/consent/OVH_NEWSLETTER", {"name": "OVH_NEWSLETTER", "description": "Newsletter", "type": "OPTIN"})
        self.put("/me/consent/OVH_NEWSLETTER/decision", {
            "campaign": "OVH_NEWSLETTER", "type": "OPTIN", "value": False,
            "history": [{"timestamp": stamp(3), "value": False}],
        })
        doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "sortie-ovh:document:1"))
        body = pdf("Identity document", ["uploaded by the customer"])
        url = self.download("document", f"{doc_id}.pdf", body, "application/pdf")
        self.collection("/me/document", {
            doc_id: {"id": doc_id, "name": "identity.pdf", "size": len(body), "creationDate": stamp(5), "getUrl": url,
                     "putUrl": "", "tags": [{"key": "kind", "value": "kyc"}]},
        })
        self.collection("/me/api/logs/self", {
            i: {"logId": i, "account": NIC, "date": stamp(10, 8 + i), "ip": "192.0.2.10", "method": "GET",
                "path": "/me", "route": "/me"} for i in (1, 2, 3)
        })
        self.put("/me/debtAccount", {"active": True, "dueAmount": price(0), "pendingAmount": price(0), "todoAmount": price(0), "unmaturedAmount": price(0)})
        self.collection("/me/payment/method", {
            1: {"paymentMethodId": 1, "paymentType": "CREDIT_CARD", "status": "VALID", "default": True,
                "creationDate": stamp(0), "lastUpdate": stamp(0), "label": "**** 4242",
                "icon": {"name": "visa", "data": None, "url": None}},
        })
        self.collection("/me/payment/transaction", {
            t: {"transactionId": t, "paymentMethodId": 1, "amount": price(12.0), "creationDate": stamp(t), "lastUpdate": stamp(t)}
            for t in (1, 2)
        })

    def build_billing(self):
        bills, orders = {}, {}
        n_orders = max(1, self.opts.bills // 5)
        for i in range(1, self.opts.bills + 1):
            bill_id = f"FR{i:08d}"
            order_id = 5_000_000 + (i - 1) % n_orders
            amount = 5 + (i * 37 % 200) + 0.99
            body = pdf(f"Invoice {bill_id}", [f"order {order_id}", f"{amount:.2f} EUR excl. tax", NIC])
            secret = token("bill", bill_id)
            pdf_url = self.download("bill", f"{bill_id}.pdf", body, "application/pdf")
            bills[bill_id] = {
                "billId": bill_id, "orderId": order_id, "date": stamp(i % 365), "category": "autorenew",
                "password": secret, "pdfUrl": pdf_url, "url": f"{self.base}/download/bill/{bill_id}.html?passwd={secret}",
                "priceWithoutTax": price(amount), "tax": price(round(amount * 0.2, 2)), "priceWithTax": price(round(amount * 1.2, 2)),
            }
        self.collection("/me/bill", bills)
        for bill_id, bill in bills.items():
            detail = f"{bill_id}-1"
            self.collection(f"/me/bill/{bill_id}/details", {
                detail: {"billDetailId": detail, "description": "Domain renewal", "domain": "example-0.com",
                         "quantity": "1", "totalPrice": bill["priceWithoutTax"],
                         "unitPrice": {"currencyCode": "EUR", "text": bill["priceWithoutTax"]["text"], "value": bill["priceWithoutTax"]["value"]},
                         "periodStart": day(0), "periodEnd": day(365)},
            })
            self.put(f"/me/bill/{bill_id}/payment", {"paymentDate": bill["date"], "paymentType": "creditCard", "paymentIdentifier": "**** 4242"})
        for o in range(n_orders):
            order_id = 5_000_000 + o
            secret = token("order", str(order_id))
            url = self.download("order", f"{order_id}.pdf", pdf(f"Order {order_id}", ["purchase order"]), "application/pdf")
            orders[order_id] = {
                "orderId": order_id, "date": stamp(o % 365, 9), "password": secret, "pdfUrl": url,
                "url": f"{self.base}/download/order/{order_id}.html?passwd={secret}",
                "priceWithoutTax": price(10.0), "tax": price(2.0), "priceWithTax": price(12.0),
            }
        self.collection("/me/order", orders)
        for order_id in orders:
            self.collection(f"/me/order/{order_id}/details", {
                1: {"orderDetailId": 1, "description": "Renewal", "domain": "example-0.com", "quantity": "1",
                    "totalPrice": price(10.0), "unitPrice": price(10.0), "detailType": "RENEW"},
            })
            self.put(f"/me/order/{order_id}/payment", {"paymentDate": stamp(o % 365, 9), "paymentType": "creditCard"})
            self.put(f"/me/order/{order_id}/status", "delivered")
        refunds = {}
        for i in (1, 2):
            rid = f"AFR{i:07d}"
            secret = token("refund", rid)
            url = self.download("refund", f"{rid}.pdf", pdf(f"Credit note {rid}", ["refund"]), "application/pdf")
            refunds[rid] = {"refundId": rid, "orderId": 5_000_000, "originalBillId": "FR00000001", "date": stamp(40 + i),
                            "password": secret, "pdfUrl": url, "url": f"{self.base}/download/refund/{rid}.html?passwd={secret}",
                            "priceWithoutTax": price(-5.0), "tax": price(-1.0), "priceWithTax": price(-6.0)}
        self.collection("/me/refund", refunds)
        for rid in refunds:
            self.collection(f"/me/refund/{rid}/details", {
                f"{rid}-1": {"refundDetailId": f"{rid}-1", "refundId": rid, "description": "Refund", "domain": "example-0.com",
                             "quantity": "1", "totalPrice": price(-5.0), "unitPrice": price(-5.0)},
            })
            self.put(f"/me/refund/{rid}/payment", {"paymentDate": stamp(45), "paymentType": "creditCard"})
        deposits = {}
        for i in (1, 2):
            did = f"DFR{i:07d}"
            secret = token("deposit", did)
            url = self.download("deposit", f"{did}.pdf", pdf(f"Deposit {did}", ["prepayment"]), "application/pdf")
            deposits[did] = {"depositId": did, "orderId": 5_000_000, "date": stamp(50 + i), "amount": price(100.0),
                             "password": secret, "pdfUrl": url, "url": f"{self.base}/download/deposit/{did}.html?passwd={secret}"}
        self.collection("/me/deposit", deposits)
        for did in deposits:
            self.collection(f"/me/deposit/{did}/details", {
                f"{did}-1": {"depositDetailId": f"{did}-1", "description": "Prepayment", "domain": "*", "quantity": "1",
                             "totalPrice": price(100.0), "unitPrice": price(100.0)},
            })
            self.put(f"/me/deposit/{did}/payment", {"paymentDate": stamp(55), "paymentType": "transfer"})

    def domains(self):
        return [f"example-{i}.com" for i in range(self.opts.domains)] + [EXPIRED_DOMAIN]

    def build_domains(self):
        names = self.domains()
        self.put("/domain", names)
        self.put("/domain/zone", names)
        contact = {"id": 1234567, "firstName": "Alice", "lastName": "Martin", "email": "alice@example-0.com",
                   "legalForm": "individual", "language": "fr_FR", "phone": "+33.123456789",
                   "address": {"line1": "1 rue de l'Exemple", "city": "Roubaix", "zip": "59100", "country": "FR"}}
        self.put("/domain/contact", [contact])
        self.put("/domain/contact/1234567", contact)
        for i, d in enumerate(names):
            sid = self.service("/domain/{serviceName}", d, "domain-com")
            zsid = self.service("/domain/zone/{zoneName}", d, "zone")
            ns = [{"id": 1, "nameServer": "dns1.ovh.net", "nameServerType": "hosted"},
                  {"id": 2, "nameServer": "ns1.ovh.net", "nameServerType": "hosted"}]
            self.put(f"/domain/{d}", {
                "domain": d, "serviceId": sid, "whoisOwner": "1234567", "offer": "gold", "state": "ok",
                "suspensionState": "suspended" if d == EXPIRED_DOMAIN else "not_suspended",
                "transferLockStatus": "locked", "dnssecState": "enabled" if i == 0 else "disabled", "dnssecSupported": True,
                "nameServerType": "hosted", "nameServers": ns, "expirationDate": stamp(400), "renewalDate": stamp(370),
                "lastUpdate": stamp(20), "renewalState": "automatic_renew",
                "contactAdmin": {"id": NIC}, "contactBilling": {"id": NIC}, "contactOwner": {"id": "1234567"}, "contactTech": {"id": NIC},
            })
            self.put(f"/domain/{d}/authInfo", f"Transfer-{d}-secret")
            self.collection(f"/domain/{d}/nameServer", {
                n["id"]: {"id": n["id"], "host": n["nameServer"], "isUsed": True, "toDelete": False} for n in ns
            })
            self.collection(f"/domain/{d}/dsRecord", {
                1: {"id": 1, "algorithm": 13, "flags": 257, "tag": 12345, "status": "active",
                    "publicKey": "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="},
            } if i == 0 else {})
            self.collection(f"/domain/{d}/glueRecord", {f"ns1.{d}": {"host": f"ns1.{d}", "ips": ["192.0.2.53"]}} if i == 0 else {})
            self.collection(f"/domain/{d}/option", {"dnsAnycast": {"option": "dnsAnycast", "expirationDate": stamp(400)}} if i == 0 else {})
            self.service_infos(f"/domain/{d}", d, sid, "expired" if d == EXPIRED_DOMAIN else "ok")
            self.build_zone(i, d, zsid)
        self.suspended += [split_path(f"/domain/{EXPIRED_DOMAIN}"), split_path(f"/domain/zone/{EXPIRED_DOMAIN}")]

    def build_zone(self, i, d, sid):
        base = f"/domain/zone/{d}"
        self.put(base, {"name": d, "nameServers": ["dns1.ovh.net", "ns1.ovh.net"], "dnssecSupported": True,
                        "hasDnsAnycast": False, "lastUpdate": stamp(20)})
        records = [
            ("", "NS", "dns1.ovh.net.", None), ("", "NS", "ns1.ovh.net.", None),
            ("", "A", f"192.0.2.{10 + i % 200}", None), ("www", "CNAME", f"{d}.", 3600),
            ("", "MX", "1 mx1.mail.ovh.net.", None), ("", "TXT", '"v=spf1 include:mx.ovh.com ~all"', 600),
        ]
        ids = {}
        for k, (sub, kind, target, ttl) in enumerate(records):
            rid = 5_000_000_000 + i * 100 + k
            ids[rid] = {"id": rid, "zone": d, "subDomain": sub, "fieldType": kind, "target": target, "ttl": ttl}
        self.collection(f"{base}/record", ids)
        serial = 2025010100 + i
        zone = [f"$TTL 3600", f"@\tIN SOA dns1.ovh.net. tech.ovh.net. ({serial} 86400 3600 3600000 300)"]
        for rec in ids.values():
            ttl = f"{rec['ttl']} " if rec["ttl"] else ""
            zone.append(f"{rec['subDomain'] or '@':<20}\t{ttl}IN {rec['fieldType']:<5} {rec['target']}")
        self.put(f"{base}/export", "\n".join(zone) + "\n")
        self.put(f"{base}/soa", {"server": "dns1.ovh.net", "email": "tech.ovh.net", "serial": serial, "refresh": 86400,
                                 "nxDomainTtl": 300, "expire": 3600000, "ttl": 3600})
        self.put(f"{base}/dnssec", {"status": "enabled" if i == 0 else "disabled"})
        self.collection(f"{base}/redirection", {
            7_000 + i: {"id": 7_000 + i, "zone": d, "subDomain": "old", "target": f"https://www.{d}/", "type": "visiblePermanent",
                        "title": None, "description": None, "keywords": None},
        } if i % 3 == 0 else {})
        self.collection(f"{base}/dynHost/record", {
            8_000 + i: {"id": 8_000 + i, "zone": d, "subDomain": "home", "ip": "198.51.100.7", "ttl": 60},
        } if i == 0 else {})
        self.collection(f"{base}/dynHost/login", {f"{d}-home": {"login": f"{d}-home", "subDomain": "home", "zone": d}} if i == 0 else {})
        self.collection(f"{base}/option", {"dnsAnycast": {"name": "dnsAnycast"}} if i == 0 else {})
        self.service_infos(base, d, sid)

    def build_hosting(self):
        self.put("/hosting/web", list(HOSTINGS))
        for n, name in enumerate(HOSTINGS):
            base = f"/hosting/web/{name}"
            sid = self.service("/hosting/web/{serviceName}", name, "hosting-perso")
            self.put(base, {"serviceName": name, "cluster": "cluster026", "datacenter": "gra", "home": f"/homez.1/{name.split('.')[0]}",
                            "primaryLogin": f"login{n}", "offer": "PERSO", "state": "active", "hostingIp": "192.0.2.80",
                            "quotaSize": {"unit": "GB", "value": 100.0}, "quotaUsed": {"unit": "MB", "value": 42.0},
                            "phpVersions": [{"version": "8.2", "support": "SUPPORTED"}]})
            self.collection(f"{base}/attachedDomain", {
                f"www.example-{n}.com": {"domain": f"www.example-{n}.com", "path": "www", "ssl": n == 0, "cdn": "none",
                                         "firewall": "none", "isFlushable": False, "status": "created", "vcsStatus": "disabled"},
            })
            self.collection(f"{base}/cron", {
                1: {"id": 1, "command": "www/cron.php", "frequency": "0 3 * * *", "language": "php8.2",
                    "state": "created", "status": "enabled", "description": "nightly", "email": None},
            })
            self.collection(f"{base}/envVar", {"APP_ENV": {"key": "APP_ENV", "value": "production", "type": "string", "status": "created"}})
            self.collection(f"{base}/runtime", {
                1: {"id": 1, "name": "php", "type": "phpfpm-8.0", "appEnv": "production", "isDefault": True,
                    "isDeletable": False, "creationDate": stamp(3), "lastUpdate": stamp(3), "status": "created", "publicDir": "www"},
            })
            if n == 0:
                self.put(f"{base}/ssl", {"provider": "LETSENCRYPT", "status": "created", "type": "DV", "isReportable": True, "regenerable": True})
            self.collection(f"{base}/user", {
                f"login{n}": {"login": f"login{n}", "home": "/", "isPrimaryAccount": True, "state": "rw", "status": "created",
                              "sshState": "active",
                              "serviceManagementCredentials": {"ftp": {"url": "ftp.cluster026.hosting.ovh.net", "port": 21},
                                                               "ssh": {"url": "ssh.cluster026.hosting.ovh.net", "port": 22}}},
            })
            db = f"db{n + 1}"
            self.collection(f"{base}/database", {
                db: {"name": db, "user": db, "port": 3306, "server": f"{db}.mysql.db", "mode": "classic", "type": "mysql",
                     "version": "8.0", "versionSupport": "stable", "state": "ok", "status": "created", "dumps": 1,
                     "quotaSize": {"unit": "MB", "value": 200.0}, "quotaUsed": {"unit": "MB", "value": 3.0},
                     "databaseServiceDeprecated": False},
            })
            dump_id = 900 + n
            url = self.download("dump", f"web-{name}-{db}-{dump_id}.sql.gz", sql_dump(db, self.opts.dump_size), "application/gzip")
            self.collection(f"{base}/database/{db}/dump", {
                dump_id: {"id": dump_id, "creationDate": stamp(60), "deletionDate": stamp(90), "status": "created",
                          "type": "daily.1", "url": url, "taskId": None},
            })
            self.collection(f"{base}/dump", {
                dump_id: {"id": dump_id, "databaseName": db, "creationDate": stamp(60), "deletionDate": stamp(90), "orphan": False,
                          "status": "created", "type": "daily.1", "url": url, "taskId": None},
            })
            self.collection(f"{base}/tasks", {})
            self.service_infos(base, name, sid)

    def build_private_database(self):
        name = PRIVATE_DB
        base, sid = self.root("/hosting/privateDatabase", name, "private-sql-512", {"serviceName": name, "hostname": f"{name}.private.sql.example", "port": 35000, "cpu": 1,
                        "datacenter": "gra1", "infrastructure": "docker", "lastCheck": stamp(60), "offer": "public",
                        "server": "sqlprive-1", "state": "started", "type": "mysql", "version": "mysql_8.0",
                        "versionLabel": "8.0", "versionNumber": 8.0, "quotaSize": {"unit": "MB", "value": 512},
                        "quotaUsed": {"unit": "MB", "value": 12}, "ram": {"unit": "MB", "value": 512}})
        dbs = ("app", "analytics")
        self.collection(f"{base}/database", {
            db: {"databaseName": db, "creationDate": stamp(2), "backupTime": "03:00:00",
                 "quotaUsed": {"unit": "MB", "value": 5 + k}, "users": [{"userName": "appuser", "grantType": "admin", "grantId": 1}]}
            for k, db in enumerate(dbs)
        })
        all_dumps = {}
        for k, db in enumerate(dbs):
            dump_id = 700 + k
            url = self.download("dump", f"{name}-{db}-{dump_id}.sql.gz", sql_dump(db, self.opts.dump_size), "application/gzip")
            self.collection(f"{base}/database/{db}/dump", {
                dump_id: {"id": dump_id, "databaseName": db, "creationDate": stamp(61), "deletionDate": stamp(91), "url": url},
            })
            all_dumps[dump_id] = {"dumpId": dump_id, "databaseName": db, "creationDate": stamp(61), "deletionDate": stamp(91),
                                  "orphan": False, "url": url}
        self.collection(f"{base}/dump", all_dumps)
        self.collection(f"{base}/user", {
            "appuser": {"userName": "appuser", "creationDate": stamp(2),
                        "databases": [{"databaseName": db, "grantType": "admin"} for db in dbs]},
        })
        self.collection(f"{base}/user/appuser/grant", {db: {"databaseName": db, "creationDate": stamp(2), "grant": "admin"} for db in dbs})
        self.collection(f"{base}/whitelist", {
            "192.0.2.0/24": {"ip": "192.0.2.0/24", "name": "office", "service": True, "sftp": False, "status": "created",
                             "creationDate": stamp(2), "lastUpdate": stamp(2)},
        })
        self.collection(f"{base}/tasks", {})
        self.service_infos(base, name, sid)

    def build_email(self):
        d = EMAIL_DOMAIN
        base, sid = self.root("/email/domain", d, "mxplan-5", {"domain": d, "status": "ok", "isMXValid": "valid", "isSPFValid": "valid",
                                                              "offer": "MX Plan", "creationDate": stamp(0)}, "domain")
        self.collection(f"{base}/account", {
            acc: {"accountName": acc, "domain": d, "email": f"{acc}@{d}", "description": desc, "isBlocked": False, "size": 5_000_000_000}
            for acc, desc in (("contact", "Contact"), ("info", "Information"))
        })
        self.collection(f"{base}/account/contact/filter", {
            "spam": {"name": "spam", "domain": d, "pop": "contact", "priority": 1, "active": True, "action": "delete", "actionParam": None},
        })
        self.collection(f"{base}/account/contact/filter/spam/rule", {
            1: {"id": 1, "header": "Subject", "operand": "contains", "value": "[SPAM]"},
            2: {"id": 2, "header": "From", "operand": "contains", "value": "spammer.example"},
        })
        self.collection(f"{base}/account/info/filter", {})
        redirections = {
            f"{9_100 + k}": {"id": f"{9_100 + k}", "from": f"{src}@{d}", "to": dst}
            for k, (src, dst) in enumerate((("sales", f"contact@{d}"), ("old", "alice@example.org")))
        }
        if self.opts.hostile_ids:
            # ids a provider must not take for paths: traversal, separators, a NUL, a newline
            # (not `..` alone: a WHATWG URL client, reqwest's too, resolves it even as `%2E%2E`,
            # so no client can ask for it, and OVH could not serve it either)
            for k, hostile in enumerate(("../../../../tmp/escape", "a/b", "nul\u0000byte", "new\nline", "%2e%2e", ".hidden"), 2):
                redirections[hostile] = {"id": hostile, "from": f"hostile{k}@{d}", "to": "x@example.org"}
        self.collection(f"{base}/redirection", redirections)
        self.collection(f"{base}/mailingList", {
            "news": {"id": 1, "name": "news", "ownerEmail": f"contact@{d}", "replyTo": "list", "language": "fr", "nbSubscribers": 3,
                     "options": {"moderatorMessage": False, "subscribeByModerator": False, "usersPostOnly": True}},
        })
        self.collection(f"{base}/mailingList/news/subscriber", {
            f"user{k}@example.org": {"email": f"user{k}@example.org", "domain": d, "mailinglist": "news"} for k in (1, 2, 3)
        })
        self.collection(f"{base}/mailingList/news/moderator", {f"contact@{d}": {"email": f"contact@{d}", "domain": d, "mailinglist": "news"}})
        self.collection(f"{base}/responder", {
            "info": {"account": "info", "content": "Back on Monday.", "copy": True, "copyTo": f"contact@{d}",
                     "from": stamp(100), "to": stamp(107)},
        })
        self.service_infos(base, d, sid)

    def build_exchange(self):
        """A hosted Exchange: its mailboxes' contents come out as PST files the API prepares
        on request (`POST …/export`, then `POST …/exportURL`: see server.py)."""
        org = svc = EXCHANGE
        base = f"/email/exchange/{org}/service/{svc}"
        sid = self.service("/email/exchange/{organizationName}/service/{exchangeService}", svc, "exchange-hosted")
        self.put("/email/exchange", [org])
        self.put(f"/email/exchange/{org}/service", [svc])
        self.put(base, {"domain": "example-0.com", "displayName": "Exchange example-0.com", "hostname": "ex5.mail.ovh.net",
                        "offer": "hosted", "state": "ok", "maxReceiveSize": 100, "maxSendSize": 100, "lockoutDuration": 30,
                        "lockoutObservationWindow": 30, "taskPendingId": 0, "complexityEnabled": True})
        self.collection(f"{base}/account", {
            f"{login}@example-0.com": {"primaryEmailAddress": f"{login}@example-0.com", "login": login, "domain": "example-0.com",
                                       "id": 4_000 + k, "displayName": name, "firstName": name, "accountLicense": "standard",
                                       "state": "ok", "quota": 50, "currentUsage": 1_000_000 * k, "configured": True,
                                       "numberOfAliases": 0, "creationDate": stamp(3)}
            for k, (login, name) in enumerate((("alice", "Alice"), ("bob", "Bob")), 1)
        })
        self.put(f"{base}/task", [])
        self.service_infos(base, svc, sid)

    def build_cloud(self):
        p = PROJECT
        base, sid = self.root("/cloud/project", p, "project.2018", {"project_id": p, "projectName": "production", "description": "production", "status": "ok",
                        "access": "full", "creationDate": stamp(1), "planCode": "project.2018", "manualQuota": False, "unleash": False})
        image = {"id": "c5d8e6a2-0b3f-4a7e-9c1d-2e4f6a8b0c1d", "name": "Debian 12", "region": "GRA11", "type": "linux",
                 "user": "debian", "visibility": "public", "status": "active", "minDisk": 0, "minRam": 0, "size": 2.1,
                 "creationDate": stamp(0)}
        key = {"id": "ZGViaWFuLWtleQ", "name": "alice", "fingerPrint": "SHA256:abcdefghijklmnop", "regions": ["GRA11"],
               "publicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhTZXN0S2V5Rm9yU29ydGll alice@example"}
        instances = {}
        for k in (1, 2):
            iid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sortie-ovh:instance:{k}"))
            instances[iid] = {"id": iid, "name": f"web-{k}", "region": "GRA11", "status": "ACTIVE", "created": stamp(10 + k),
                              "flavorId": "b2-7", "imageId": image["id"], "sshKeyId": key["id"], "planCode": "b2-7.consumption",
                              "ipAddresses": [{"ip": f"203.0.113.{k}", "type": "public", "version": 4, "networkId": "ext-net",
                                               "gatewayIp": "203.0.113.254"}], "operationIds": []}
        self.put(f"{base}/instance", list(instances.values()))
        for iid, inst in instances.items():
            detail = {kk: v for kk, v in inst.items() if kk not in ("flavorId", "imageId", "sshKeyId")}
            detail.update({"image": image, "sshKey": key,
                           "flavor": {"id": "b2-7", "name": "b2-7", "region": "GRA11", "vcpus": 2, "ram": 7000, "disk": 50,
                                      "osType": "linux", "type": "ovh.ssd.eg", "available": True, "inboundBandwidth": 250,
                                      "outboundBandwidth": 250, "quota": 10, "planCodes": {"hourly": "b2-7.consumption", "monthly": None}}})
            self.put(f"{base}/instance/{iid}", detail)
        volumes = {}
        for k in (1, 2):
            vid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sortie-ovh:volume:{k}"))
            volumes[vid] = {"id": vid, "name": f"data-{k}", "description": "", "region": "GRA11", "size": 10 * k,
                            "status": "in-use", "type": "classic", "bootable": False, "creationDate": stamp(12),
                            "attachedTo": [list(instances)[k - 1]]}
        self.put(f"{base}/volume", list(volumes.values()))
        for vid, vol in volumes.items():
            self.put(f"{base}/volume/{vid}", vol)
        snap_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "sortie-ovh:volume-snapshot:1"))
        snap = {"id": snap_id, "name": "data-1-backup", "description": "", "region": "GRA11", "size": 10,
                "status": "available", "volumeId": list(volumes)[0], "creationDate": stamp(30)}
        self.put(f"{base}/volume/snapshot", [snap])
        self.put(f"{base}/volume/snapshot/{snap_id}", snap)
        img = dict(image, id="e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b", name="web-1 snapshot", visibility="private", type="linux")
        self.put(f"{base}/snapshot", [img])
        self.put(f"{base}/snapshot/{img['id']}", img)
        net = {"id": "pn-1234567_0", "name": "backend", "status": "ACTIVE", "type": "private", "vlanId": 0,
               "regions": [{"region": "GRA11", "status": "ACTIVE", "openstackId": "0a1b2c3d-0000-4000-8000-000000000001"}]}
        self.put(f"{base}/network/private", [net])
        self.put(f"{base}/network/private/{net['id']}", net)
        self.put(f"{base}/network/private/{net['id']}/subnet", [{
            "id": "0a1b2c3d-0000-4000-8000-000000000002", "cidr": "10.0.0.0/16", "dhcpEnabled": True, "gatewayIp": "10.0.0.1",
            "ipPools": [{"dhcp": True, "start": "10.0.0.2", "end": "10.0.255.254", "network": "10.0.0.0/16", "region": "GRA11"}],
        }])
        self.put(f"{base}/sshkey", [{kk: key[kk] for kk in ("id", "name", "publicKey", "regions")}])
        self.put(f"{base}/sshkey/{key['id']}", key)
        self.put(f"{base}/usage/current", {"lastUpdate": stamp(60), "period": {"from": stamp(31), "to": stamp(59)}})
        users, regions = {}, {"GRA": {"name": "GRA", "continentCode": "EU", "datacenterLocation": "GRA", "status": "UP",
                                       "type": "region-3-az" if False else "region", "services": [], "ipCountries": []}}
        o = self.opts
        if o.s3_endpoint:
            users[1] = {"id": 1, "username": "user-s3", "description": "object storage", "status": "ok",
                        "creationDate": stamp(5), "openstackId": "0a1b2c3d-0000-4000-8000-00000000aaaa",
                        "roles": [{"id": "r1", "name": "objectstore_operator", "description": "Object storage operator", "permissions": []}]}
            regions["GRA"]["services"] = [{"name": "storage-s3-standard", "endpoint": o.s3_endpoint, "status": "UP"}]
        self.put(f"{base}/user", list(users.values()))
        for uid, user in users.items():
            self.put(f"{base}/user/{uid}", user)
            cred = {"access": o.s3_access_key, "tenantId": PROJECT, "userId": str(uid)}
            self.put(f"{base}/user/{uid}/s3Credentials", [cred])
            self.put(f"{base}/user/{uid}/s3Credentials/{o.s3_access_key}", cred)
        self.put(f"{base}/region", list(regions))
        for name, region in regions.items():
            self.put(f"{base}/region/{name}", region)
            containers = [{"name": b, "region": name, "createdAt": stamp(6), "objects": [], "objectsCount": 0, "objectsSize": 0,
                           "ownerId": 1, "virtualHost": f"{o.s3_endpoint}/{b}"} for b in (o.s3_bucket if o.s3_endpoint else [])]
            self.put(f"{base}/region/{name}/storage", containers)
            for c in containers:
                self.put(f"{base}/region/{name}/storage/{c['name']}", c)
        self.service_infos(base, p, sid)

    def build_ip_vps_dedicated_logs(self):
        block = "192.0.2.0/28"
        self.put("/ip", [block])
        self.put(path("ip", block), {"ip": block, "type": "failover", "version": "4", "description": "front",
                                     "canBeTerminated": True, "isAdditionalIp": True, "bringYourOwnIp": False,
                                     "routedTo": {"serviceName": VPS}})
        self.collection(path("ip", block, "reverse"), {
            "192.0.2.1": {"ipReverse": "192.0.2.1", "reverse": "www.example-0.com."},
        })
        self.collection(path("ip", block, "firewall"), {
            "192.0.2.1": {"ipOnFirewall": "192.0.2.1", "enabled": True, "state": "ok"},
        })
        self.collection(path("ip", block, "firewall", "192.0.2.1", "rule"), {
            0: {"sequence": 0, "action": "permit", "protocol": "tcp", "source": "any", "destination": "192.0.2.1/32",
                "destinationPort": "eq 443", "rule": "permit tcp any 192.0.2.1/32 eq 443", "state": "ok", "creationDate": stamp(8)},
            1: {"sequence": 1, "action": "deny", "protocol": "ipv4", "source": "any", "destination": "192.0.2.1/32",
                "rule": "deny ipv4 any 192.0.2.1/32", "state": "ok", "creationDate": stamp(8)},
        })
        base, sid = self.root("/vps", VPS, "vps-le-2-2-40", {"name": VPS, "displayName": "vps", "cluster": "GRA3", "zone": "Region OpenStack: os-gra3",
                        "state": "running", "memoryLimit": 2048, "vcore": 1, "netbootMode": "local", "offerType": "ssd",
                        "model": {"name": "vps-le-2-2-40", "offer": "VPS Value", "memory": 2048, "vcore": 1, "disk": 40,
                                  "version": "2019v1", "maximumAdditionnalIp": 16, "availableOptions": [], "datacenter": []},
                        "monitoringIpBlocks": []})
        self.collection(f"{base}/disks", {1: {"id": 1, "size": 40, "state": "connected", "type": "primary", "bandwidthLimit": 0}})
        self.collection(f"{base}/ips", {"203.0.113.10": {"ipAddress": "203.0.113.10", "type": "primary", "version": "v4",
                                                        "reverse": VPS, "geolocation": "fr", "macAddress": None, "gateway": None}})
        snap_body = gzip.compress(b"qcow2 snapshot of " + VPS.encode() + b"\n" * 1000, mtime=0)
        self.put(f"{base}/snapshot", {"id": "snap-1", "description": "before upgrade", "creationDate": stamp(70), "region": "GRA"})
        self.put(f"{base}/snapshot/download", {"size": len(snap_body), "url": self.download("vps", f"{VPS}-snap-1.qcow2.gz", snap_body, "application/octet-stream")})
        self.service_infos(base, VPS, sid)
        base, sid = self.root("/dedicated/server", DEDICATED, "24adv01", {"name": DEDICATED, "serverId": 424242, "ip": "198.51.100.20", "datacenter": "rbx", "os": "debian12_64",
                        "rack": "R1", "region": "eu-west-rbx", "availabilityZone": "eu-west-rbx-a", "state": "ok",
                        "powerState": "poweron", "supportLevel": "pro", "monitoring": True, "professionalUse": False,
                        "noIntervention": False, "newUpgradeSystem": True, "reverse": DEDICATED})
        self.put(f"{base}/ips", ["198.51.100.20/32"])
        self.put(f"{base}/specifications/hardware", {"description": "ADVANCE-1", "processorName": "AMD EPYC 4244P",
                                                      "numberOfProcessors": 1, "coresPerProcessor": 6, "threadsPerProcessor": 2,
                                                      "memorySize": {"unit": "MB", "value": 32768}, "motherboard": "X13"})
        self.collection(f"{base}/networkInterfaceController", {"0c:c4:7a:00:00:01": {"mac": "0c:c4:7a:00:00:01"}})
        self.service_infos(base, DEDICATED, sid)
        base, sid = self.root("/dbaas/logs", LOGS, "logs-basic", {"serviceName": LOGS, "username": "logs-ab-12345", "plan": "STANDARD", "state": "ENABLED",
                        "isClusterOwner": False, "createdAt": stamp(4)})
        stream = f"{base}/output/graylog/stream"
        self.collection(stream, {
            LOGS_STREAM: {"streamId": LOGS_STREAM, "title": "web", "description": "web logs", "createdAt": stamp(4),
                          "canAlert": True, "isEditable": True, "nbAlertCondition": 0, "nbArchive": 1, "nbSubscription": 0,
                          "clusterId": "0a1b2c3d-0000-4000-8000-00000000c1c1", "retentionId": "0a1b2c3d-0000-4000-8000-00000000e7e7",
                          "coldStorageEnabled": True},
        })
        self.collection(f"{base}/input", {
            "0a1b2c3d-0000-4000-8000-0000000011a1": {"inputId": "0a1b2c3d-0000-4000-8000-0000000011a1", "title": "syslog",
                                                     "description": "syslog input", "createdAt": stamp(4), "engineId": LOGS_STREAM,
                                                     "streamId": LOGS_STREAM, "hostname": "gra1.logs.ovh.com",
                                                     "publicAddress": "203.0.113.40", "sslCertificate": "", "isRestartRequired": False},
        })
        self.collection(f"{base}/output/graylog/dashboard", {
            "0a1b2c3d-0000-4000-8000-0000000011d1": {"dashboardId": "0a1b2c3d-0000-4000-8000-0000000011d1", "title": "web",
                                                     "description": "web traffic", "createdAt": stamp(4), "isEditable": True},
        })
        archive = gzip.compress(b"".join(b"2025-03-01T00:00:%02dZ GET / 200\n" % (s % 60) for s in range(2000)), mtime=0)
        self.archive_url = self.download("logs", f"{LOGS_ARCHIVE}.gz", archive, "application/gzip")
        self.collection(f"{stream}/{LOGS_STREAM}/archive", {
            LOGS_ARCHIVE: {"archiveId": LOGS_ARCHIVE, "filename": "2025-03-01.gz", "size": len(archive), "createdAt": stamp(60),
                           "md5": hashlib.md5(archive).hexdigest(), "sha256": hashlib.sha256(archive).hexdigest(),
                           "retrievalDelay": 0, "retrievalState": "sealed"},
        })
        self.service_infos(base, LOGS, sid)

    def build_support(self):
        tickets = {}
        for k, (subject, product, service) in enumerate((("DNS zone not updated", "domain", "example-0.com"),
                                                         ("Invoice question", None, None)), 1):
            tid = 3_000_000 + k
            tickets[tid] = {"ticketId": tid, "ticketNumber": 9_100_000 + k, "accountId": NIC, "subject": subject,
                            "product": product, "serviceName": service, "category": "assistance", "type": "genericRequest",
                            "state": "closed" if k == 1 else "open", "canBeClosed": k != 1, "score": "",
                            "lastMessageFrom": "support", "creationDate": stamp(100 + k), "updateDate": stamp(102 + k)}
        self.collection("/support/tickets", tickets)
        for tid, ticket in tickets.items():
            self.put(f"/support/tickets/{tid}/messages", [
                {"messageId": tid * 10 + m, "ticketId": tid, "from": sender, "body": f"{ticket['subject']}: message {m}.",
                 "creationDate": stamp(100 + m), "updateDate": stamp(100 + m)}
                for m, sender in enumerate(("customer", "support"), 1)
            ])

    def build_services(self):
        self.collection("/services", dict(self.services))
        old = {}
        for sid, svc in self.services:
            old[sid] = {"resource": {"name": svc["resource"]["name"], "displayName": svc["resource"]["displayName"], "state": "ok"},
                        "route": {"path": svc["route"]["path"], "url": svc["route"]["url"], "vars": svc["route"]["vars"]},
                        "plan": {"code": svc["billing"]["plan"]["code"], "product": {"name": svc["billing"]["plan"]["code"]}},
                        "creationDate": day(0), "expirationDate": day(400), "nextBillingDate": day(370), "quantity": 1,
                        "state": "ok", "details": []}
        self.collection("/service", old)

    # -- what the server asks ---------------------------------------------------------

    def get(self, segments):
        return self.store.get(segments)

    def is_suspended(self, segments):
        return any(segments[: len(p)] == p for p in self.suspended)

    def versions(self, segments):
        """Every answer `GET segments` gave before the current one, oldest first."""
        return self.history.get(segments, [])

    def paths(self):
        """Every stored GET path, encoded as a client calls it."""
        return sorted(path(*s) for s in self.store)
