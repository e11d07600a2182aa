"""OVH's API descriptions (api/*.json) as data for the test server: which route a request
path is, what type its answer has, whether a value is of that type, and how to complete a
fixture's partial object into one the model accepts (every property present, as OVH serves
them: `null` where the model allows it, a plain default otherwise).
"""

import datetime
import glob
import ipaddress
import json
import os
import re
import uuid
from urllib.parse import unquote

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
TIME = re.compile(r"^\d\d:\d\d(:\d\d)?$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

STRINGS = {"string", "text", "password", "phoneNumber", "duration"}


def split_path(path):
    """A request path (after `/1.0`, without the query) as its decoded segments: `%2F` in a
    segment (an IP block) stays inside that segment."""
    return tuple(unquote(s) for s in path.strip("/").split("/")) if path.strip("/") else ()


class Route:
    def __init__(self, section, template, operations):
        self.section = section
        self.template = template
        self.segments = tuple(template.strip("/").split("/"))
        self.operations = {op["httpMethod"]: op for op in operations}

    def match(self, segments):
        """The path parameters when `segments` is this route, else None."""
        if len(segments) != len(self.segments):
            return None
        params = {}
        for mine, theirs in zip(self.segments, segments):
            if mine.startswith("{") and mine.endswith("}"):
                if theirs == "":
                    return None
                params[mine[1:-1]] = theirs
            elif mine != theirs:
                return None
        return params

    def literals(self):
        return sum(1 for s in self.segments if not s.startswith("{"))


class SchemaError(Exception):
    pass


class Api:
    def __init__(self, folder):
        self.routes = []
        self.models = {}
        self.section_models = {}
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            section = os.path.basename(path)[: -len(".json")]
            with open(path) as f:
                description = json.load(f)
            self.section_models[section] = description["models"]
            for name, model in description["models"].items():
                self.models.setdefault(name, model)
            for api in description["apis"]:
                self.routes.append(Route(section, api["path"], api["operations"]))

    def route(self, segments):
        """(route, params) of the most literal route matching `segments`, or (None, None)."""
        best = (None, None)
        for route in self.routes:
            params = route.match(segments)
            if params is not None and (best[0] is None or route.literals() > best[0].literals()):
                best = (route, params)
        return best

    def model(self, name, section=None):
        models = self.section_models.get(section, {})
        if name in models:
            return models[name]
        return self.models.get(name)

    # -- validation -------------------------------------------------------------------

    def validate(self, type_name, value, section=None, where="$"):
        """Raises SchemaError naming the first place where `value` is not of `type_name`."""
        t = alias(type_name)
        if t.endswith("[]"):
            if not isinstance(value, list):
                raise SchemaError(f"{where}: expected a list ({t}), got {type(value).__name__}")
            for i, item in enumerate(value):
                self.validate(t[:-2], item, section, f"{where}[{i}]")
            return
        if t.startswith("map[") and "]" in t:
            if not isinstance(value, dict):
                raise SchemaError(f"{where}: expected an object ({t})")
            inner = t[t.index("]") + 1 :]
            for k, v in value.items():
                self.validate(inner, v, section, f"{where}.{k}")
            return
        if t == "void":
            if value is not None:
                raise SchemaError(f"{where}: expected nothing (void)")
            return
        model, bound = self._resolve(t, section)
        if model is not None:
            self._validate_model(t, model, bound, value, section, where)
            return
        self._validate_primitive(t, value, where)

    def validate_input(self, type_name, value, section=None, where="$"):
        """Raises SchemaError where a request's parameter breaks its type: as `validate`, but
        an object may leave out the properties the model does not mark `required`."""
        t = alias(type_name)
        if t.endswith("[]"):
            if not isinstance(value, list):
                raise SchemaError(f"{where}: expected a list ({t})")
            for i, item in enumerate(value):
                self.validate_input(t[:-2], item, section, f"{where}[{i}]")
            return
        model, bound = self._resolve(t, section)
        if model is None or "enum" in model:
            self.validate(t, value, section, where)
            return
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: expected an object {t}")
        props = model.get("properties", {})
        extra = set(value) - set(props)
        if extra:
            raise SchemaError(f"{where}: {t} takes no {sorted(extra)}")
        for name, prop in props.items():
            if name not in value:
                if prop.get("required"):
                    raise SchemaError(f"{where}.{name}: missing, and {t} requires it")
                continue
            if value[name] is None and prop.get("canBeNull"):
                continue
            self.validate_input(bound.get(prop["type"], prop["type"]), value[name], section, f"{where}.{name}")

    def _resolve(self, t, section):
        """The model of `t` (generic ones bound: `a.B<c.D>` → (model `a.B<T>`, {"T": "c.D"}))."""
        model = self.model(t, section)
        if model is not None and "<" not in t:
            return model, {}
        m = re.match(r"^([^<]+)<(.+)>$", t)
        if m:
            generic = self.model(m.group(1) + "<T>", section)
            if generic is not None:
                return generic, {"T": m.group(2)}
        if model is not None:
            return model, {}
        return None, {}

    def _validate_model(self, t, model, bound, value, section, where):
        if "enum" in model:
            if value not in model["enum"]:
                raise SchemaError(f"{where}: {value!r} is not one of {t}'s values {model['enum']}")
            return
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: expected an object {t}, got {type(value).__name__}")
        props = model.get("properties", {})
        extra = set(value) - set(props)
        if extra:
            raise SchemaError(f"{where}: {t} has no properties {sorted(extra)}")
        for name, prop in props.items():
            if name not in value:
                raise SchemaError(f"{where}.{name}: missing ({t} serves every property)")
            v = value[name]
            if v is None:
                if not prop.get("canBeNull", False):
                    raise SchemaError(f"{where}.{name}: null, but {t}.{name} cannot be null")
                continue
            self.validate(bound.get(prop["type"], prop["type"]), v, section, f"{where}.{name}")

    def _validate_primitive(self, t, v, where):
        def need(ok, what):
            if not ok:
                raise SchemaError(f"{where}: {v!r} is not a {what}")

        if t in STRINGS:
            need(isinstance(v, str), t)
        elif t in ("long", "int"):
            need(isinstance(v, int) and not isinstance(v, bool), t)
        elif t in ("double", "float"):
            need(isinstance(v, (int, float)) and not isinstance(v, bool), t)
        elif t == "boolean":
            need(isinstance(v, bool), t)
        elif t == "uuid":
            need(isinstance(v, str) and UUID.match(v), t)
        elif t == "datetime":
            need(isinstance(v, str) and DATETIME.match(v), t)
        elif t == "date":
            need(isinstance(v, str) and DATE.match(v), t)
        elif t == "time":
            need(isinstance(v, str) and TIME.match(v), t)
        elif t == "macAddress":
            need(isinstance(v, str) and MAC.match(v), t)
        elif t in ("ip", "ipv4", "ipv6", "ipBlock", "ipv4Block", "ipv6Block"):
            need(isinstance(v, str), t)
            try:
                parsed = ipaddress.ip_network(v, strict=False) if "Block" in t else ipaddress.ip_address(v)
            except ValueError:
                raise SchemaError(f"{where}: {v!r} is not an {t}") from None
            if t.startswith("ipv4"):
                need(parsed.version == 4, t)
            if t.startswith("ipv6"):
                need(parsed.version == 6, t)
        else:
            raise SchemaError(f"{where}: unknown type {t!r} (neither a model nor a primitive)")

    # -- completion -------------------------------------------------------------------

    def fill(self, type_name, partial, section=None, seed="x"):
        """`partial` completed into a value of `type_name`: missing properties get null when
        allowed, else a plain default derived from `seed` and the property's name."""
        t = alias(type_name)
        if t.endswith("[]"):
            return [self.fill(t[:-2], item, section, f"{seed}[{i}]") for i, item in enumerate(partial or [])]
        if t.startswith("map["):
            return partial if partial is not None else {}
        model, bound = self._resolve(t, section)
        if model is None:
            return partial if partial is not None else default(t, seed)
        if "enum" in model:
            return partial if partial is not None else model["enum"][0]
        partial = dict(partial or {})
        out = {}
        for name, prop in sorted(model.get("properties", {}).items()):
            pt = bound.get(prop["type"], prop["type"])
            if name in partial:
                v = partial.pop(name)
                out[name] = v if v is None else self.fill(pt, v, section, f"{seed}.{name}")
            elif prop.get("canBeNull", False):
                out[name] = None
            else:
                out[name] = self.fill(pt, None, section, f"{seed}.{name}")
        if partial:
            raise SchemaError(f"{seed}: {t} has no properties {sorted(partial)}")
        return out


def alias(type_name):
    """`coreTypes.AccountId:string` (a named alias of a primitive, in older descriptions) is a `string`."""
    return type_name.rsplit(":", 1)[1] if ":" in type_name else type_name


def default(t, seed):
    if t in ("long", "int"):
        return 0
    if t in ("double", "float"):
        return 0.0
    if t == "boolean":
        return False
    if t == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "sortie-ovh:" + seed))
    if t == "datetime":
        return "2026-01-01T00:00:00+01:00"
    if t == "date":
        return "2026-01-01"
    if t == "time":
        return "00:00:00"
    if t in ("ip", "ipv4"):
        return "192.0.2.1"
    if t == "ipv6":
        return "2001:db8::1"
    if t in ("ipBlock", "ipv4Block"):
        return "192.0.2.0/28"
    if t == "ipv6Block":
        return "2001:db8::/64"
    if t == "macAddress":
        return "02:00:00:00:00:01"
    if t == "void":
        return None
    return seed.rsplit(".", 1)[-1]


def now_iso(offset=0.0):
    return datetime.datetime.fromtimestamp(
        int(datetime.datetime.now().timestamp() + offset), datetime.timezone.utc
    ).isoformat()
