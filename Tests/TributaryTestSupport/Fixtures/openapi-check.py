#!/usr/bin/env python3
"""Checks real API responses against an OpenAPI 3.1 document with PyPI's jsonschema.

usage: openapi-check.py OPENAPI_YAML SAMPLES_JSON

SAMPLES_JSON is a list of {"operationId", "status", "body"}. Each body is validated against the
schema its operation documents for that status (application/json). Exits 1 naming every mismatch,
a status the operation does not document, or an operation (other than streams) with no sample.
"""
import json
import sys

import jsonschema
import yaml

document = yaml.safe_load(open(sys.argv[1]))
samples = json.load(open(sys.argv[2]))
operations = {}
for path, methods in document["paths"].items():
    for method, operation in methods.items():
        operations[operation["operationId"]] = operation


def resolve(node):
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = document["components"]["responses"][node["$ref"].split("/")[-1]]
    return node


failures = []
seen = set()
for sample in samples:
    operation = operations.get(sample["operationId"])
    if operation is None:
        failures.append("no operation %s" % sample["operationId"])
        continue
    seen.add(sample["operationId"])
    response = resolve(operation["responses"].get(str(sample["status"])))
    if response is None:
        failures.append("%s does not document status %s" % (sample["operationId"], sample["status"]))
        continue
    schema = dict(response["content"]["application/json"]["schema"])
    schema["components"] = document["components"]  # so #/components/... resolves
    validator = jsonschema.Draft202012Validator(schema)
    for error in validator.iter_errors(sample["body"]):
        failures.append("%s %s: %s at %s" % (sample["operationId"], sample["status"], error.message, "/".join(str(p) for p in error.absolute_path)))

for operation_id, operation in operations.items():
    streams = any("text/event-stream" in (resolve(r).get("content") or {}) for r in operation["responses"].values())
    if operation_id not in seen and not streams:
        failures.append("no sample for %s" % operation_id)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("%d responses match the document" % len(samples))
