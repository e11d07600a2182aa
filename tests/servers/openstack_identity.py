"""Identity data for the test OpenStack (tests/servers/openstack), through Keystone's v3 API.

  openstack_identity.py setup KEYSTONE_URL SWIFT_PORT GLANCE_PORT RECORDED_PORT
      the object-store, image, compute, volumev3, network and dns services and their
      endpoints (the last four at the recorded answers), the `swift` service user Swift and Glance
      validate tokens with, and a first tenant; prints identity.json
  openstack_identity.py service KEYSTONE_URL TYPE URL
      a service of TYPE (image, compute…) with public/internal/admin endpoints at URL in
      RegionOne, unless the catalog has one already; prints its id
  openstack_identity.py catalog KEYSTONE_URL PROJECT_ID TYPE...
      restricts the project's catalog to the endpoints of these service types (Keystone's
      endpoint filter), as a cloud that offers a project only some services
  openstack_identity.py token KEYSTONE_URL USER PASSWORD PROJECT
      a token of USER scoped to PROJECT (domain `default`); prints it
  openstack_identity.py tenant KEYSTONE_URL NAME [DOMAIN]
      a project NAME with a member user NAME-user (password NAME-pass), in DOMAIN (created
      if needed, default `default`), and an application credential of that user; prints JSON
"""
import json
import sys
import urllib.error
import urllib.request


def call(keystone, method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(keystone + path, method=method, data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return response.headers, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path}: {error.code} {error.read()[:500]!r}")


def password_token(keystone, user, password, project, domain_id="default"):
    auth = {"auth": {
        "identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"id": domain_id}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": domain_id}}}}}
    headers, _ = call(keystone, "POST", "/v3/auth/tokens", auth)
    return headers["X-Subject-Token"]


def admin_token(keystone):
    return password_token(keystone, "admin", "adminpass", "admin")


def role_id(keystone, token, name):
    roles = {r["name"]: r["id"] for r in call(keystone, "GET", "/v3/roles", token=token)[1]["roles"]}
    if name in roles:
        return roles[name]
    return call(keystone, "POST", "/v3/roles", {"role": {"name": name}}, token)[1]["role"]["id"]


def domain_id(keystone, token, name):
    if name == "default":
        return "default"
    found = call(keystone, "GET", f"/v3/domains?name={name}", token=token)[1]["domains"]
    if found:
        return found[0]["id"]
    return call(keystone, "POST", "/v3/domains", {"domain": {"name": name}}, token)[1]["domain"]["id"]


def project_with_user(keystone, token, project, user, password, role, domain="default"):
    domain = domain_id(keystone, token, domain)
    project_id = call(keystone, "POST", "/v3/projects",
                      {"project": {"name": project, "domain_id": domain}}, token)[1]["project"]["id"]
    user_id = call(keystone, "POST", "/v3/users", {"user": {
        "name": user, "domain_id": domain, "password": password, "default_project_id": project_id}}, token)[1]["user"]["id"]
    call(keystone, "PUT", f"/v3/projects/{project_id}/users/{user_id}/roles/{role_id(keystone, token, role)}", token=token)
    return {"project": project, "project_id": project_id, "user": user, "user_id": user_id, "password": password,
            "domain": domain if domain == "default" else project_domain_name(keystone, token, domain),
            "domain_id": domain}


def project_domain_name(keystone, token, domain):
    return call(keystone, "GET", f"/v3/domains/{domain}", token=token)[1]["domain"]["name"]


def tenant(keystone, name, domain="default"):
    token = admin_token(keystone)
    made = project_with_user(keystone, token, name, f"{name}-user", f"{name}-pass", "member", domain)
    own = password_token(keystone, made["user"], made["password"], name, made["domain_id"])
    credential = call(keystone, "POST", f"/v3/users/{made['user_id']}/application_credentials",
                      {"application_credential": {"name": f"{name}-export"}}, own)[1]["application_credential"]
    made["application_credential"] = {"id": credential["id"], "name": credential["name"], "secret": credential["secret"]}
    return made


def service(keystone, kind, url):
    token = admin_token(keystone)
    existing = call(keystone, "GET", f"/v3/services?type={kind}", token=token)[1]["services"]
    if existing:
        return existing[0]["id"]
    made = call(keystone, "POST", "/v3/services", {"service": {"type": kind, "name": kind}}, token)[1]["service"]
    for interface in ("public", "internal", "admin"):
        call(keystone, "POST", "/v3/endpoints", {"endpoint": {
            "service_id": made["id"], "interface": interface, "region_id": "RegionOne", "url": url}}, token)
    return made["id"]


def setup(keystone, swift_port, glance_port, recorded_port):
    service(keystone, "object-store", f"http://127.0.0.1:{swift_port}/v1/AUTH_$(project_id)s")
    service(keystone, "image", f"http://127.0.0.1:{glance_port}")
    service(keystone, "compute", f"http://127.0.0.1:{recorded_port}/compute/v2.1")
    service(keystone, "volumev3", f"http://127.0.0.1:{recorded_port}/volume/v3")
    service(keystone, "network", f"http://127.0.0.1:{recorded_port}/network")
    service(keystone, "dns", f"http://127.0.0.1:{recorded_port}/dns")
    token = admin_token(keystone)
    project_with_user(keystone, token, "service", "swift", "swiftpass", "admin")
    return {"keystone": keystone, "admin_password": "adminpass", "tenant": tenant(keystone, "sortie")}


if __name__ == "__main__":
    command, keystone = sys.argv[1], sys.argv[2]
    if command == "setup":
        print(json.dumps(setup(keystone, *sys.argv[3:6])))
    elif command == "catalog":
        token = admin_token(keystone)
        kinds = {s["id"]: s["type"] for s in call(keystone, "GET", "/v3/services", token=token)[1]["services"]}
        for endpoint in call(keystone, "GET", "/v3/endpoints", token=token)[1]["endpoints"]:
            if kinds[endpoint["service_id"]] in sys.argv[4:]:
                call(keystone, "PUT", f"/v3/OS-EP-FILTER/projects/{sys.argv[3]}/endpoints/{endpoint['id']}", token=token)
    elif command == "token":
        print(password_token(keystone, *sys.argv[3:6]))
    elif command == "service":
        print(service(keystone, sys.argv[3], sys.argv[4]))
    elif command == "tenant":
        print(json.dumps(tenant(keystone, sys.argv[3], *sys.argv[4:5])))
    else:
        sys.exit(__doc__)
