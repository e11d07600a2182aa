"""Checks JSON Lines on stdin against a JSON Schema (docs/events.schema.json) with the
reference Python validator, independent of Sortie's own serializer.

    check_events.py SCHEMA < LINES

Prints one line per problem (`line N: …`) and exits 1 if there is any, else prints
`N line(s) valid` and exits 0.
"""

import json
import sys

import jsonschema

with open(sys.argv[1], encoding="utf-8") as file:
    schema = json.load(file)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

problems = 0
count = 0
for number, line in enumerate(sys.stdin, start=1):
    count += 1
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        print(f"line {number}: not JSON ({error}): {line.rstrip()}")
        problems += 1
        continue
    if validator.is_valid(value):
        continue
    problems += 1
    # Say what is wrong against the definitions of the line's own type, not "valid under none
    # of the given schemas".
    kind = value.get("type") if isinstance(value, dict) else None
    own = [
        name
        for name, definition in schema["$defs"].items()
        if definition.get("properties", {}).get("type", {}).get("const") == kind
    ]
    reasons = []
    for name in own:
        branch = jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": schema["$defs"]})
        error = jsonschema.exceptions.best_match(branch.iter_errors(value))
        reasons.append(f"as {name}: {error.message} at {list(error.absolute_path)}")
    reason = "; ".join(reasons) or f"no event has type {kind!r}"
    print(f"line {number}: {reason}: {line.rstrip()[:300]}")
print(f"{count} line(s) valid" if problems == 0 else f"{problems} problem(s) in {count} line(s)")
sys.exit(1 if problems else 0)
