"""Writes the trimmed API descriptions of this folder from OVH's full ones (a maintainer's
tool, run by hand when the routes the test server serves change; the tests never run it):

    python3 trim.py SOURCE_DIR

SOURCE_DIR holds OVH's `<section>.json` descriptions as published at
`https://eu.api.ovh.com/1.0/<section>.json` (see README.md). Keeps the routes of KEEP (GET,
plus the POSTs that start an export or hand out a secret or a URL) and the models their
answers reach, nothing else.
"""

import json
import os
import re
import sys

# section file → routes kept (anchored regexes over the description's path templates)
KEEP = {
    "auth": [r"/auth/(time|credential|currentCredential|details)"],
    "me": [
        r"/me",
        r"/me/bill(/\{billId\}(/details(/\{billDetailId\})?|/payment)?)?",
        r"/me/order(/\{orderId\}(/details(/\{orderDetailId\})?|/payment|/status)?)?",
        r"/me/refund(/\{refundId\}(/details(/\{refundDetailId\})?|/payment)?)?",
        r"/me/deposit(/\{depositId\}(/details(/\{depositDetailId\})?|/payment)?)?",
        r"/me/agreements(/\{id\}(/contract)?)?",
        r"/me/contact(/\{contactId\})?",
        r"/me/consent(/\{campaignName\}(/decision)?)?",
        r"/me/document(/\{id\})?",
        r"/me/api/logs/self(/\{logId\})?",
        r"/me/debtAccount",
        r"/me/payment/method(/\{paymentMethodId\})?",
        r"/me/payment/transaction(/\{transactionId\})?",
    ],
    "services": [r"/services(/\{serviceId\})?"],
    "service": [r"/service(/\{serviceId\})?"],
    "domain": [
        r"/domain(/\{serviceName\}(/authInfo|/nameServer(/\{id\})?|/dsRecord(/\{id\})?"
        r"|/glueRecord(/\{host\})?|/option(/\{option\})?|/serviceInfos)?)?",
        r"/domain/contact(/\{contactId\})?",
        r"/domain/zone(/\{zoneName\}(/export|/record(/\{id\})?|/redirection(/\{id\})?"
        r"|/dynHost/record(/\{id\})?|/dynHost/login(/\{login\})?|/soa|/dnssec|/option(/\{name\})?|/serviceInfos)?)?",
    ],
    "hosting-web": [
        r"/hosting/web(/\{serviceName\}(/attachedDomain(/\{domain\})?|/cron(/\{id\})?"
        r"|/envVar(/\{key\})?|/runtime(/\{id\})?|/ssl|/user(/\{login\})?"
        r"|/database(/\{name\}(/dump(/\{id\})?)?)?|/dump(/\{id\})?|/tasks(/\{id\})?|/serviceInfos)?)?",
    ],
    "hosting-privateDatabase": [
        r"/hosting/privateDatabase(/\{serviceName\}(/database(/\{databaseName\}(/dump(/\{id\})?)?)?"
        r"|/dump(/\{dumpId\})?|/tasks(/\{id\})?|/user(/\{userName\}(/grant(/\{databaseName\})?)?)?"
        r"|/whitelist(/\{ip\})?|/serviceInfos)?)?",
    ],
    "email-domain": [
        r"/email/domain(/\{domain\}(/account(/\{accountName\}(/filter(/\{name\}(/rule(/\{id\})?)?)?)?)?"
        r"|/redirection(/\{id\})?|/mailingList(/\{name\}(/subscriber(/\{email\})?|/moderator(/\{email\})?)?)?"
        r"|/responder(/\{account\})?|/serviceInfos)?)?",
    ],
    "cloud": [
        r"/cloud/project(/\{serviceName\}(/instance(/\{instanceId\})?|/volume(/\{volumeId\})?"
        r"|/volume/snapshot(/\{snapshotId\})?|/snapshot(/\{imageId\})?|/network/private(/\{networkId\}(/subnet)?)?"
        r"|/sshkey(/\{keyId\})?|/usage/current|/user(/\{userId\}(/s3Credentials(/\{access\}(/secret)?)?)?)?"
        r"|/region(/\{regionName\}(/storage(/\{name\})?)?)?|/serviceInfos)?)?",
    ],
    "ip": [r"/ip(/\{ip\}(/reverse(/\{ipReverse\})?|/firewall(/\{ipOnFirewall\}(/rule(/\{sequence\})?)?)?)?)?"],
    "vps": [r"/vps(/\{serviceName\}(/snapshot(/download)?|/serviceInfos|/ips(/\{ipAddress\})?|/disks(/\{id\})?)?)?"],
    "dedicated-server": [
        r"/dedicated/server(/\{serviceName\}(/serviceInfos|/ips|/specifications/hardware"
        r"|/networkInterfaceController(/\{mac\})?)?)?",
    ],
    "dbaas-logs": [
        r"/dbaas/logs(/\{serviceName\}(/output/graylog/stream(/\{streamId\}(/archive(/\{archiveId\}(/url)?)?)?)?"
        r"|/output/graylog/dashboard(/\{dashboardId\})?|/input(/\{inputId\})?|/serviceInfos)?)?",
    ],
    "email-exchange": [
        r"/email/exchange(/\{organizationName\}(/service(/\{exchangeService\}(/account(/\{primaryEmailAddress\}"
        r"(/export|/exportURL)?)?|/task(/\{id\})?|/serviceInfos)?)?)?)?",
    ],
    "support": [r"/support/tickets(/\{ticketId\}(/messages)?)?"],
}

# POSTs kept: they start a server-side export or hand out what an export needs.
POSTS = re.compile(r"(/auth/credential|/dump|/s3Credentials/\{access\}/secret|/archive/\{archiveId\}/url|/export|/exportURL)$")

PRIMITIVE = re.compile(r"^[a-z][A-Za-z0-9]*$")


def referenced(type_name):
    """The model names a type string mentions: `a.B[]`, `map[string]a.B`, `a.B<c.D>` (that
    one whole, and `c.D`)."""
    t = type_name
    while t.endswith("[]"):
        t = t[:-2]
    if t.startswith("map[") and "]" in t:
        return referenced(t[4 : t.index("]")]) + referenced(t[t.index("]") + 1 :])
    if "<" in t and t.endswith(">"):
        return [t] + referenced(t[t.index("<") + 1 : -1])
    return [t] if "." in t else []


def trim(source, section):
    with open(os.path.join(source, section + ".json")) as f:
        full = json.load(f)
    keep = [re.compile("^(" + p + ")$") for p in KEEP[section]]
    apis, wanted = [], []
    for api in full["apis"]:
        if not any(k.match(api["path"]) for k in keep):
            continue
        ops = [
            op
            for op in api["operations"]
            if op["httpMethod"] == "GET" or (op["httpMethod"] == "POST" and POSTS.search(api["path"]))
        ]
        if ops:
            apis.append({"path": api["path"], "description": api.get("description", ""), "operations": ops})
            wanted += [op["responseType"] for op in ops]
            wanted += [p["dataType"] for op in ops for p in op["parameters"] if p["paramType"] in ("path", "body")]
    models, todo = {}, [t for w in wanted for t in referenced(w)]
    while todo:
        name = todo.pop()
        base = re.sub(r"<.*>$", "<T>", name)
        for candidate in (name, base):
            if candidate in full["models"] and candidate not in models:
                model = full["models"][candidate]
                models[candidate] = model
                for prop in model.get("properties", {}).values():
                    todo += referenced(prop["type"]) + referenced(prop.get("fullType", ""))
        if name != base:
            todo += referenced(name[name.index("<") + 1 : -1])
    return {
        "apiVersion": full["apiVersion"],
        "basePath": full["basePath"],
        "resourcePath": full["resourcePath"],
        "apis": apis,
        "models": dict(sorted(models.items())),
    }


def main():
    source = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    for section in KEEP:
        trimmed = trim(source, section)
        with open(os.path.join(here, section + ".json"), "w") as f:
            json.dump(trimmed, f, indent=1, sort_keys=True)
            f.write("\n")
        print(section, len(trimmed["apis"]), "routes", len(trimmed["models"]), "models")


if __name__ == "__main__":
    main()
