#!/usr/bin/env python3
"""A stand-in Kubernetes API server for tests: JSON over HTTP/1.1, in memory, Python stdlib only.

usage: kube-apiserver.py [--tls-cert CERT --tls-key KEY] [--client-ca CA] [--token TOKEN ...]
                         [--kubeconfig-out PATH] [--rollout manual|instant]
                         [--crd-establish-seconds S] [--forbid VERB:RESOURCE[:NAMESPACE] ...]
Binds 127.0.0.1 on an ephemeral port, prints PORT=<n> once listening, runs until SIGTERM.

Users: a bearer token is "system:serviceaccount:tributary:tributary", a client certificate is its CN,
no credentials (only when neither --token nor --client-ca is given) is "system:anonymous".

What it implements, and where each behaviour comes from (kubernetes.io unless noted):
- Paths, verbs, list kinds, resourceVersion, dryRun, Status errors:
  /docs/reference/using-api/api-concepts/ and /docs/reference/kubernetes-api/common-definitions/status/.
- Discovery (/version, /api, /api/v1, /apis, /apis/G, /apis/G/V; legacy documents only — kubectl falls
  back to them when the answer to its aggregated-discovery Accept header is plain application/json):
  /docs/concepts/overview/kubernetes-api/.
- get, list (labelSelector, fieldSelector metadata.name/namespace), create, update (PUT), patch
  (json-patch, merge-patch, strategic-merge-patch with the directives kubectl sends), delete and
  deletecollection; the status and scale subresources:
  /docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/,
  /docs/concepts/overview/working-with-objects/labels/, /docs/reference/kubernetes-api/ (per kind).
- Server-side apply with managedFields (FieldsV1), conflicts, force, shared ownership and removal of
  fields an applier stops applying: /docs/reference/using-api/server-side-apply/.
- Defaulting of Deployments, StatefulSets, DaemonSets, Jobs, pod templates, Services and Namespaces
  (the defaults listed in the workload and service API reference pages), a few validations with the
  real messages (names: /docs/concepts/overview/working-with-objects/names/).
- Deletion: propagationPolicy Foreground/Background/Orphan, finalizers, ownerReferences, namespace
  termination: /docs/concepts/architecture/garbage-collection/,
  /docs/concepts/overview/working-with-objects/finalizers/.
- CustomResourceDefinitions: served versions appear in discovery once Established (after
  --crd-establish-seconds); scope, subresources.status, x-kubernetes-list-type for apply:
  /docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/.
- Authentication (bearer tokens, client certificates), authorization denials with the RBAC message
  shape, and a webhook-style admission denial ("admission webhook ... denied the request: ..."):
  /docs/reference/access-authn-authz/authentication/, .../authorization/,
  .../extensible-admission-controllers/. As there, a denial is code 400 with no reason unless the
  webhook sets one.
- metadata.generation only on the kinds whose real registry keeps one (workloads, HPA, Ingress,
  NetworkPolicy, CRDs, custom resources), bumped when anything but metadata and status changes.
- --rollout instant plays the workload controllers: after a Deployment/StatefulSet/DaemonSet write
  that changes its generation, a separate status write (manager kube-controller-manager) reports a
  completed rollout with that kind's real status fields.
- OpenAPI: only a minimal /openapi/v3 (each kind's PATCH operation and its query parameters). kubectl
  1.32 needs it: without it, apply/diff/edit fall back to client-side validation, which downloads
  /openapi/v2 and fails. /openapi/v2 answers 404, which kubectl copes with.
- /healthz, /livez, /readyz answer "ok" without authentication.

What it leaves out on purpose: watch (405), Table output (kubectl falls back to NAME/AGE columns),
protobuf and CBOR bodies (415 — so kubectl's typed commands such as `kubectl create namespace` fail;
apply, edit, scale, delete, get and diff use JSON), full OpenAPI schemas, conversion between versions,
CRD schema validation and pruning, strict field validation (fieldValidation is accepted and ignored),
real admission plugins, controllers (except --rollout instant and CRD establishment), garbage
collection beyond ownerReferences, pagination (limit/continue are ignored), YAML request bodies
(kubectl and Tributary send apply patches as JSON), the scale subresource of custom resources.
Known approximations: "." entries in Update-operation managedFields are decided by field name rather
than by Go types; DELETE answers a Success Status for every kind that goes at once (the real server
answers the object for some kinds); only a handful of validations exist.

Test controls (no authentication), under /_standin/:
  POST/DELETE /_standin/forbid   {"verb", "resource", "namespace"?}   add a denial rule / clear them
  POST/DELETE /_standin/deny     {"kind", "name"?, "message"}         add an admission denial / clear
  GET/DELETE  /_standin/requests                                      every API request so far / clear
"""
import argparse
import base64
import copy
import datetime
import hashlib
import http.server
import json
import os
import random
import re
import signal
import ssl
import string
import threading
import time
import traceback
import urllib.parse
import uuid

MISSING = object()
WEBHOOK = "standin.tributary.dev"
TOKEN_USER = "system:serviceaccount:tributary:tributary"
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-standin", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3",
           "compiler": "gc", "platform": "linux/amd64"}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Status errors (k8s.io/apimachinery/pkg/api/errors shapes)
# ---------------------------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message}
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def details_for(rt, name):
    details = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def not_found(rt, name):
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', details_for(rt, name))


def namespace_not_found(ns):
    return ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def conflict(rt, name, reason):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified} "{name}": {reason}',
                    details_for(rt, name))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"
RESOURCE_NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource", {})
UNAUTHORIZED = ApiError(401, "Unauthorized", "Unauthorized")
UNSUPPORTED_PATCH = ("the body of the request was in an unknown format - accepted media types include: "
                     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def invalid(rt, name, errors):
    """errors: [(cause type, field, body)] as produced by `required`/`bad_value` below."""
    causes = [{"reason": kind, "message": body, "field": field} for kind, field, body in errors]
    texts = [f"{field}: {body}" for _, field, body in errors]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = {"name": name, "kind": rt.kind, "causes": causes}
    if rt.group:
        details = {"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}
    return ApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {summary}', details)


def required(field, detail=""):
    return ("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def bad_value(field, value, detail):
    shown = json.dumps(value) if isinstance(value, str) else str(value)
    return ("FieldValueInvalid", field, f"Invalid value: {shown}: {detail}")


# ---------------------------------------------------------------------------------------------
# Resource types and discovery
# ---------------------------------------------------------------------------------------------

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced, short=(), subresources=(), generation=False,
                 categories=(), schema=None, custom=False, singular=None):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.short, self.subresources = namespaced, list(short), tuple(subresources)
        self.generation, self.categories, self.schema, self.custom = generation, list(categories), schema, custom
        self.singular = singular or kind.lower()

    gv = property(lambda self: f"{self.group}/{self.version}" if self.group else self.version)
    qualified = property(lambda self: f"{self.plural}.{self.group}" if self.group else self.plural)
    qualified_kind = property(lambda self: f"{self.kind}.{self.group}" if self.group else self.kind)
    has_status = property(lambda self: "status" in self.subresources)

    def discovery_entries(self):
        main = {"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": VERBS if self.plural != "namespaces" else
                [v for v in VERBS if v != "deletecollection"]}
        if self.short:
            main["shortNames"] = self.short
        if self.categories:
            main["categories"] = self.categories
        entries = [main]
        for sub in self.subresources:
            entry = {"name": f"{self.plural}/{sub}", "singularName": "", "namespaced": self.namespaced,
                     "kind": self.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update(group="autoscaling", version="v1", kind="Scale")
            entries.append(entry)
        return entries


def builtin_types():
    table = [
        ("", "namespaces", "Namespace", False, ["ns"], ["status"], False, []),
        ("", "configmaps", "ConfigMap", True, ["cm"], [], False, []),
        ("", "secrets", "Secret", True, [], [], False, []),
        ("", "services", "Service", True, ["svc"], ["status"], False, ["all"]),
        ("", "serviceaccounts", "ServiceAccount", True, ["sa"], [], False, []),
        ("", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], ["status"], False, []),
        ("", "pods", "Pod", True, ["po"], ["status"], False, ["all"]),
        ("apps", "deployments", "Deployment", True, ["deploy"], ["status", "scale"], True, ["all"]),
        ("apps", "statefulsets", "StatefulSet", True, ["sts"], ["status", "scale"], True, ["all"]),
        ("apps", "daemonsets", "DaemonSet", True, ["ds"], ["status"], True, ["all"]),
        ("apps", "replicasets", "ReplicaSet", True, ["rs"], ["status", "scale"], True, ["all"]),
        ("batch", "jobs", "Job", True, [], ["status"], True, ["all"]),
        ("batch", "cronjobs", "CronJob", True, ["cj"], ["status"], True, ["all"]),
        ("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], ["status"], True, ["all"]),
        ("networking.k8s.io", "ingresses", "Ingress", True, ["ing"], ["status"], True, []),
        ("networking.k8s.io", "networkpolicies", "NetworkPolicy", True, ["netpol"], [], True, []),
        ("rbac.authorization.k8s.io", "roles", "Role", True, [], [], False, []),
        ("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", True, [], [], False, []),
        ("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False, [], [], False, []),
        ("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", False, [], [], False, []),
        ("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False, ["crd", "crds"],
         ["status"], True, ["api-extensions"]),
    ]
    versions = {"": "v1", "apps": "v1", "batch": "v1", "autoscaling": "v2", "networking.k8s.io": "v1",
                "rbac.authorization.k8s.io": "v1", "apiextensions.k8s.io": "v1"}
    return [ResourceType(g, versions[g], p, k, ns, short, subs, gen, cats) for g, p, k, ns, short, subs, gen, cats in table]


# ---------------------------------------------------------------------------------------------
# Field paths and sets (structured-merge-diff's FieldsV1, approximated)
#
# A path is a tuple of elements ("f", field) | ("k", canonical key JSON) | ("v", value JSON) | ("i", n).
# Which lists are associative (keyed), sets or atomic comes from the built-in types' list-map-keys,
# or from x-kubernetes-list-type in a CRD schema.
# ---------------------------------------------------------------------------------------------

KEYED = {"containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
         "volumes": ("name",), "env": ("name",), "imagePullSecrets": ("name",), "resourceClaims": ("name",),
         "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",), "hostAliases": ("ip",),
         "conditions": ("type",), "ownerReferences": ("uid",),
         "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable")}
SMP_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
            "env": "name", "imagePullSecrets": "name", "resourceClaims": "name", "volumeMounts": "mountPath",
            "volumeDevices": "devicePath", "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
            "topologySpreadConstraints": "topologyKey"}
SETS = {"finalizers"}
ATOMIC_MAPS = {"labelSelector", "namespaceSelector", "podSelector"}
META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
              "managedFields"]
NOT_OWNED_METADATA = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                      "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}
# Go structs that are never absent, so the real field manager never records them as "added" nodes.
ALWAYS_PRESENT = {"metadata", "spec", "status", "strategy", "template", "updateStrategy", "jobTemplate"}


class Shape:
    """Answers "what kind of list/map is at these field names" for one resource kind."""

    def __init__(self, rt):
        self.kind, self.schema = rt.kind, rt.schema if rt.custom else None

    def _schema_at(self, names):
        node = self.schema
        for name in names:
            while isinstance(node, dict) and node.get("type") == "array":
                node = node.get("items")
            if not isinstance(node, dict):
                return None
            props = node.get("properties") or {}
            extra = node.get("additionalProperties")
            node = props.get(name, extra if isinstance(extra, dict) else None)
        return node

    def list_type(self, names):
        if self.schema is not None and names[:1] != ("metadata",):
            node = self._schema_at(names) or {}
            kind = node.get("x-kubernetes-list-type", "atomic")
            return (kind, tuple(node.get("x-kubernetes-list-map-keys", ()))) if kind == "map" else (kind, None)
        field = names[-1] if names else ""
        if field == "ports":
            return ("map", ("port", "protocol") if names == ("spec", "ports") else ("containerPort", "protocol"))
        if field in KEYED:
            return ("map", KEYED[field])
        return ("set", None) if field in SETS else ("atomic", None)

    def atomic_map(self, names):
        if not names:
            return False
        if self.schema is not None and names[0] != "metadata":
            return (self._schema_at(names) or {}).get("x-kubernetes-map-type") == "atomic"
        return names[-1] in ATOMIC_MAPS or (names[-1] == "selector" and self.kind != "Service")

    def smp_key(self, names):
        field = names[-1]
        if field == "ports":
            return "port" if names == ("spec", "ports") else "containerPort"
        return SMP_KEYS.get(field)


def canon(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def item_key(item, keys):
    if not isinstance(item, dict) or not keys or keys[0] not in item:
        return None
    key = {}
    for field in keys:
        if field in item:
            key[field] = item[field]
        elif field == "protocol":
            key[field] = "TCP"  # the list-map-key default the real server fills in
    return canon(key)


def names_of(path):
    return tuple(value for kind, value in path if kind == "f")


def skip_field(path, field):
    return (not path and field in ("apiVersion", "kind")) or (path == (("f", "metadata"),) and field in NOT_OWNED_METADATA)


def get_at(obj, path, shape):
    current, names = obj, ()
    for kind, value in path:
        if kind == "f":
            if not isinstance(current, dict) or value not in current:
                return MISSING
            current, names = current[value], names + (value,)
        elif kind == "k":
            keys = shape.list_type(names)[1]
            if not isinstance(current, list):
                return MISSING
            current = next((item for item in current if item_key(item, keys) == value), MISSING)
            if current is MISSING:
                return MISSING
        elif kind == "v":
            if not isinstance(current, list) or json.loads(value) not in current:
                return MISSING
            current = json.loads(value)
        else:
            if not isinstance(current, list) or value >= len(current):
                return MISSING
            current = current[value]
    return current


def remove_at(obj, path, shape):
    parent = get_at(obj, path[:-1], shape)
    kind, value = path[-1]
    if kind == "f" and isinstance(parent, dict):
        parent.pop(value, None)
    elif kind == "k" and isinstance(parent, list):
        keys = shape.list_type(names_of(path))[1]
        parent[:] = [item for item in parent if item_key(item, keys) != value]
    elif kind == "v" and isinstance(parent, list):
        parent[:] = [item for item in parent if item != json.loads(value)]


def applied_fields(obj, shape, path=(), names=(), out=None):
    """The field set of an applied configuration: its leaves, plus the items of associative lists."""
    out = set() if out is None else out
    if isinstance(obj, dict) and not shape.atomic_map(names):
        if not obj and path and path != (("f", "metadata"),):
            out.add(path)
        for field, value in obj.items():
            if not skip_field(path, field):
                applied_fields(value, shape, path + (("f", field),), names + (field,), out)
    elif isinstance(obj, list) and shape.list_type(names)[0] != "atomic":
        kind, keys = shape.list_type(names)
        if kind == "set":
            out.update(path + (("v", canon(item)),) for item in obj)
        elif any(item_key(item, keys) is None for item in obj):
            out.add(path)
        else:
            for item in obj:
                item_path = path + (("k", item_key(item, keys)),)
                out.add(item_path)
                applied_fields(item, shape, item_path, names, out)
    else:
        out.add(path)
    return out


def changed_fields(old, new, shape, path=(), names=(), out=None):
    """The fields an update sets or changes (what the real field manager records for Update)."""
    out = set() if out is None else out
    if isinstance(new, dict) and not shape.atomic_map(names):
        if not isinstance(old, dict):
            if path and (not new or (path[-1][0] == "f" and names[-1] not in ALWAYS_PRESENT)):
                out.add(path)
            old = {}
        for field, value in new.items():
            if not skip_field(path, field):
                changed_fields(old.get(field, MISSING), value, shape, path + (("f", field),), names + (field,), out)
    elif isinstance(new, list) and shape.list_type(names)[0] != "atomic":
        kind, keys = shape.list_type(names)
        previous = old if isinstance(old, list) else []
        if kind == "set":
            out.update(path + (("v", canon(item)),) for item in new if item not in previous)
        elif any(item_key(item, keys) is None for item in new):
            if old != new:
                out.add(path)
        else:
            by_key = {item_key(item, keys): item for item in previous}
            for item in new:
                key = item_key(item, keys)
                if key not in by_key:
                    out.add(path + (("k", key),))
                changed_fields(by_key.get(key, MISSING), item, shape, path + (("k", key),), names, out)
    elif old is MISSING or old != new:
        out.add(path)
    return out


def element_text(element):
    kind, value = element
    return f"{kind}:{value}"


def parse_element(text):
    kind, value = text[0], text[2:]
    if kind in "kv":
        return kind, canon(json.loads(value))
    return (kind, int(value)) if kind == "i" else (kind, value)


def to_fields_v1(paths):
    tree = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        node[None] = True  # member marker
    order = {"f": 0, "k": 1, "v": 2, "i": 3}

    def render(node):
        children = sorted((e for e in node if e is not None), key=lambda e: (order[e[0]], str(e[1])))
        out = {".": {}} if node.get(None) and children else {}
        for element in children:
            out[element_text(element)] = render(node[element])
        return out
    return render(tree)


def from_fields_v1(fields, path=(), out=None):
    out = set() if out is None else out
    for text, child in (fields or {}).items():
        if text == ".":
            out.add(path)
            continue
        element_path = path + (parse_element(text),)
        if child:
            from_fields_v1(child, element_path, out)
        else:
            out.add(element_path)
    return out


def path_text(path):
    """The path as the conflict messages print it: .spec.containers[name="web"].image"""
    text = ""
    for kind, value in path:
        if kind == "f":
            text += "." + value
        elif kind == "k":
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(value).items()) + "]"
        elif kind == "v":
            text += f"[={value}]"
        else:
            text += f"[{value}]"
    return text


# ---------------------------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(original, patch, shape, names=()):
    """Strategic merge patch for the built-in kinds, with the directives kubectl sends."""
    if not isinstance(patch, dict) or not isinstance(original, dict):
        return copy.deepcopy(strip_directives(patch))
    if patch.get("$patch") == "replace":
        return strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    result = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field, []) if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict) and value.get("$patch") != "replace":
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result[key], value, shape, names + (key,))
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = merge_list(result[key], value, shape, names + (key,))
        else:
            result[key] = strip_directives(value)
        order = patch.get(f"$setElementOrder/{key}")
        if order is not None and isinstance(result.get(key), list):
            result[key] = reorder(result[key], order, shape.smp_key(names + (key,)))
    if retain is not None:
        result = {k: v for k, v in result.items() if k in retain}
    return result


def merge_list(original, patch, shape, names):
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [strip_directives(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    key = shape.smp_key(names)
    if names[-1] in SETS:
        return original + [v for v in patch if v not in original]
    if key is None:
        return strip_directives(patch)
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            continue
        position = next((i for i, live in enumerate(result) if isinstance(live, dict) and live.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append(strip_directives(item))
        else:
            result[position] = strategic_merge(result[position], item, shape, names)
    return result


def reorder(items, order, key):
    if key is None:
        return items
    wanted = [entry.get(key) if isinstance(entry, dict) else entry for entry in order]
    rank = {value: i for i, value in enumerate(wanted)}
    return sorted(items, key=lambda item: rank.get(item.get(key) if isinstance(item, dict) else item, len(rank)))


def strip_directives(value):
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value


def json_patch(document, operations):
    """RFC 6902: add, remove, replace, test (and move, copy)."""
    doc = copy.deepcopy(document)

    def locate(pointer):
        if not pointer.startswith("/"):
            raise bad_request(f'the JSON patch path "{pointer}" is not a JSON pointer')
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        return parent, parts[-1]

    def read(pointer):
        parent, last = locate(pointer)
        return parent[int(last)] if isinstance(parent, list) else parent[last]

    def add(pointer, value):
        parent, last = locate(pointer)
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), value)
        else:
            parent[last] = value

    def remove(pointer):
        parent, last = locate(pointer)
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)

    for op in operations:
        try:
            name, path = op["op"], op["path"]
            if name == "add":
                add(path, copy.deepcopy(op["value"]))
            elif name == "remove":
                remove(path)
            elif name == "replace":
                remove(path)
                add(path, copy.deepcopy(op["value"]))
            elif name == "test":
                if read(path) != op["value"]:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {path} failed")
            elif name in ("move", "copy"):
                value = remove(op["from"]) if name == "move" else copy.deepcopy(read(op["from"]))
                add(path, value)
            else:
                raise bad_request(f"Unexpected kind: {name}")
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {error!r}") from None
    return doc


# ---------------------------------------------------------------------------------------------
# Label and field selectors
# ---------------------------------------------------------------------------------------------

def parse_selector(text):
    requirements, depth, current = [], 0, ""
    for char in text or "":
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            requirements.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        requirements.append(current.strip())
    parsed = []
    for req in requirements:
        match = re.fullmatch(r"([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)", req)
        if match:
            parsed.append((match[1], match[2], {v.strip() for v in match[3].split(",") if v.strip()}))
        elif match := re.fullmatch(r"([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)", req):
            parsed.append((match[1], "!=" if match[2] == "!=" else "=", match[3]))
        elif match := re.fullmatch(r"!\s*([^\s!=]+)", req):
            parsed.append((match[1], "!", None))
        elif re.fullmatch(r"[^\s!=()]+", req):
            parsed.append((req, "exists", None))
        else:
            raise bad_request(f'unable to parse requirement: "{req}"')
    return parsed


def selector_matches(requirements, labels):
    for key, op, value in requirements:
        present, actual = key in labels, labels.get(key)
        if (op == "=" and actual != value) or (op == "!=" and actual == value) or (op == "in" and actual not in value) \
                or (op == "notin" and present and actual in value) or (op == "exists" and not present) \
                or (op == "!" and present):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Defaults, validation, generation
# ---------------------------------------------------------------------------------------------

def default_container(container):
    image = container.get("image", "")
    if "imagePullPolicy" not in container:
        last = image.rsplit("/", 1)[-1]
        tagged = "@" in image or (":" in last and not last.endswith(":latest"))
        container["imagePullPolicy"] = "IfNotPresent" if tagged else "Always"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports", []):
        port.setdefault("protocol", "TCP")


def default_pod_spec(spec, restart_policy=True):
    if restart_policy:
        spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        if isinstance(container, dict):
            default_container(container)


def default_template(spec, restart_policy=True):
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"], restart_policy)


def apply_defaults(kind, obj, old, next_cluster_ip):
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if kind == "Deployment" and spec is not None:
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        default_template(spec)
    elif kind == "StatefulSet" and spec is not None:
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        default_template(spec)
    elif kind == "DaemonSet" and spec is not None:
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        default_template(spec)
    elif kind == "ReplicaSet" and spec is not None:
        spec.setdefault("replicas", 1)
        default_template(spec)
    elif kind == "Job" and spec is not None:
        for field, value in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6),
                             ("completionMode", "NonIndexed"), ("suspend", False)):
            spec.setdefault(field, value)
        default_template(spec, restart_policy=False)
    elif kind == "CronJob" and spec is not None:
        for field, value in (("concurrencyPolicy", "Allow"), ("suspend", False),
                             ("successfulJobsHistoryLimit", 3), ("failedJobsHistoryLimit", 1)):
            spec.setdefault(field, value)
        job = spec.get("jobTemplate", {}).get("spec")
        if isinstance(job, dict):
            default_template(job, restart_policy=False)
    elif kind == "Pod" and spec is not None:
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("serviceAccountName", "default")
    elif kind == "PersistentVolumeClaim" and spec is not None:
        spec.setdefault("volumeMode", "Filesystem")
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec", {})
        spec.setdefault("type", "ClusterIP")
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if field not in spec and field in old_spec:
                spec[field] = copy.deepcopy(old_spec[field])
        if spec["type"] != "ExternalName":
            spec.setdefault("clusterIP", next_cluster_ip())
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports", []):
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
    elif kind == "Namespace":
        obj.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get("name")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind == "CustomResourceDefinition" and spec is not None:
        names = spec.get("names", {})
        if "kind" in names:
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})


SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"


def name_errors(kind, name):
    if kind == "Namespace":
        if not re.fullmatch(LABEL, name) or len(name) > 63:
            return [bad_value("metadata.name", name, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]
    elif kind == "Service":
        if not re.fullmatch(DNS1035, name) or len(name) > 63:
            return [bad_value("metadata.name", name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")]
    elif not re.fullmatch(SUBDOMAIN, name) or len(name) > 253:
        return [bad_value("metadata.name", name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    return []


def go_map(labels):
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def container_errors(spec, prefix):
    errors = []
    containers = spec.get("containers") or []
    if not containers:
        errors.append(required(f"{prefix}.containers"))
    for i, container in enumerate(containers):
        if not container.get("name"):
            errors.append(required(f"{prefix}.containers[{i}].name"))
        if not container.get("image"):
            errors.append(required(f"{prefix}.containers[{i}].image"))
    return errors


def validate(rt, obj, old):
    errors = []
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        errors += name_errors(rt.kind, name)
    spec = obj.get("spec") or {}
    if rt.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector:
            errors.append(required("spec.selector"))
        else:
            match_labels = selector.get("matchLabels") or {}
            if not match_labels and not selector.get("matchExpressions"):
                errors.append(bad_value("spec.selector", "v1.LabelSelector{}", "empty selector is invalid for deployment"))
            elif any(labels.get(k) != v for k, v in match_labels.items()):
                errors.append(("FieldValueInvalid", "spec.template.metadata.labels",
                               f"Invalid value: {go_map(labels)}: `selector` does not match template `labels`"))
            old_selector = ((old or {}).get("spec") or {}).get("selector")
            if old is not None and old_selector != selector:
                errors.append(("FieldValueInvalid", "spec.selector",
                               f"Invalid value: {canon(selector)}: field is immutable"))
        errors += container_errors((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
        replicas = spec.get("replicas", 0)
        if isinstance(replicas, int) and replicas < 0:
            errors.append(bad_value("spec.replicas", replicas, "must be greater than or equal to 0"))
    elif rt.kind == "Pod":
        errors += container_errors(spec, "spec")
    elif rt.kind == "Service":
        ports = spec.get("ports") or []
        for i, port in enumerate(ports):
            number = port.get("port", 0)
            if not isinstance(number, int) or not 1 <= number <= 65535:
                errors.append(bad_value(f"spec.ports[{i}].port", number, "must be between 1 and 65535, inclusive"))
            if len(ports) > 1 and not port.get("name"):
                errors.append(required(f"spec.ports[{i}].name"))
        if not ports and spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
            errors.append(required("spec.ports"))
    elif rt.kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData"):
            for key in obj.get(field) or {}:
                if not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
                    errors.append(bad_value(f"{field}[{key}]", key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
    elif rt.kind == "CustomResourceDefinition":
        names = spec.get("names") or {}
        for field in ("group", "names.plural", "names.kind", "scope"):
            head, _, tail = field.partition(".")
            if not (names.get(tail) if tail else spec.get(head)):
                errors.append(required(f"spec.{field}"))
        if spec.get("group") and names.get("plural") and name != f"{names['plural']}.{spec['group']}":
            errors.append(bad_value("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
        versions = spec.get("versions") or []
        if not versions:
            errors.append(required("spec.versions", "must have exactly one version marked as storage version"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            errors.append(bad_value("spec.versions", "[]", "must have exactly one version marked as storage version"))
    if errors:
        raise invalid(rt, name, errors)


def decode_check(rt, obj):
    """Type errors the real server reports while decoding the body (400, not 422)."""
    if rt.kind in ("ConfigMap", "Secret"):
        for key, value in (obj.get("data") or {}).items():
            if not isinstance(value, str):
                raise bad_request(f'{rt.kind} in version "v1" cannot be handled as a {rt.kind}: json: cannot unmarshal '
                                  f'{type_name(value)} into Go struct field {rt.kind}.data of type string')
            if rt.kind == "Secret":
                try:
                    base64.b64decode(value, validate=True)
                except ValueError:
                    raise bad_request(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0') from None
    if rt.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        replicas = (obj.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise bad_request(f'{rt.kind} in version "v1" cannot be handled as a {rt.kind}: json: cannot unmarshal '
                              f'{type_name(replicas)} into Go struct field {rt.kind}Spec.spec.replicas of type int32')


def without_fields(obj):
    out = dict(obj, metadata={k: v for k, v in obj.get("metadata", {}).items() if k not in ("managedFields", "resourceVersion")})
    return without_nulls(out)


def type_name(value):
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "null")


def without_nulls(value):
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def spec_part(rt, obj):
    """What a generation bump compares: everything but metadata (and status, when it is a subresource)."""
    if rt.custom:
        return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind") and (k != "status" or not rt.has_status)}
    return obj.get("spec")


INITIAL_STATUS = {"Deployment": {}, "ReplicaSet": {"replicas": 0}, "StatefulSet": {"replicas": 0, "availableReplicas": 0},
                  "DaemonSet": {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                                "numberReady": 0},
                  "Job": {}, "CronJob": {}, "HorizontalPodAutoscaler": {"desiredReplicas": 0}, "Ingress": {"loadBalancer": {}},
                  "Service": {"loadBalancer": {}}, "Pod": {"phase": "Pending", "qosClass": "BestEffort"},
                  "PersistentVolumeClaim": {"phase": "Pending"}, "Namespace": {"phase": "Active"},
                  "CustomResourceDefinition": {}}


def rollout_status(kind, obj):
    """The status a workload controller reports once a rollout has completed (--rollout instant)."""
    spec, generation = obj.get("spec") or {}, obj["metadata"].get("generation", 1)
    replicas = spec.get("replicas", 1)
    stamp = now()
    if kind == "Deployment":
        return {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas, "conditions": [
                    {"type": "Available", "status": "True", "lastUpdateTime": stamp, "lastTransitionTime": stamp,
                     "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "lastUpdateTime": stamp, "lastTransitionTime": stamp,
                     "reason": "NewReplicaSetAvailable",
                     "message": f'ReplicaSet "{obj["metadata"]["name"]}-standin" has successfully progressed.'}]}
    if kind == "StatefulSet":
        revision = f'{obj["metadata"]["name"]}-{generation}'
        return {"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
                "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
                "currentRevision": revision, "updateRevision": revision, "collisionCount": 0}
    return {"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
            "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberMisscheduled": 0}


# ---------------------------------------------------------------------------------------------
# The API server state; every method runs under LOCK
# ---------------------------------------------------------------------------------------------

LOCK = threading.RLock()


class Write:
    """One write request: who, how, and whether it persists."""

    def __init__(self, manager, operation, api_version, subresource="", dry_run=False):
        self.manager, self.operation, self.api_version = manager, operation, api_version
        self.subresource, self.dry_run = subresource, dry_run


class Cluster:
    def __init__(self, options):
        self.options = options
        self.revision = 1
        self.objects = {}  # (group, plural) -> {(namespace, name): object}
        self.types = {}    # (group, version, plural) -> ResourceType
        for rt in builtin_types():
            self.types[(rt.group, rt.version, rt.plural)] = rt
        self.forbid_rules, self.deny_rules, self.requests = [], [], []
        for rule in options.forbid or []:
            verb, resource, *namespace = rule.split(":")
            self.forbid_rules.append({"verb": verb, "resource": resource, "namespace": namespace[0] if namespace else None})
        self.next_ip = 10
        for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.store_object(self.types[("", "v1", "namespaces")], {"apiVersion": "v1", "kind": "Namespace",
                                                                     "metadata": {"name": namespace}})

    def store_object(self, rt, obj):
        """Creates a system object at start-up (the default namespace)."""
        apply_defaults(rt.kind, obj, None, None)
        obj["metadata"].update(uid=str(uuid.uuid4()), resourceVersion=str(self.revision), creationTimestamp=now())
        obj["status"] = copy.deepcopy(INITIAL_STATUS[rt.kind])
        self.objects.setdefault((rt.group, rt.plural), {})[("", obj["metadata"]["name"])] = obj

    def bump(self):
        self.revision += 1
        return str(self.revision)

    def cluster_ip(self, dry_run):
        def allocate():
            address = f"10.96.{self.next_ip // 256}.{self.next_ip % 256}"
            if not dry_run:
                self.next_ip += 1
            return address
        return allocate

    # ----- discovery -----

    def groups(self):
        order = []
        for rt in self.types.values():
            if rt.group and rt.group not in order:
                order.append(rt.group)
        return order

    def group_document(self, group):
        versions = []
        for rt in self.types.values():
            if rt.group == group and rt.version not in versions:
                versions.append(rt.version)
        if not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def resource_list(self, group, version):
        types = [rt for rt in self.types.values() if rt.group == group and rt.version == version]
        if not types:
            return None
        resources = [entry for rt in types for entry in rt.discovery_entries()]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    def openapi_v3(self, group_version):
        """Just enough OpenAPI v3 for kubectl: each kind's PATCH operation and the query parameters it takes.

        kubectl reads these to decide that the server validates fields itself (fieldValidation), which spares it
        from downloading the full /openapi/v2 schema for client-side validation.
        """
        paths = {}
        for rt in self.types.values():
            if rt.gv != group_version:
                continue
            prefix = f"/apis/{rt.gv}" if rt.group else "/api/v1"
            scope = "/namespaces/{namespace}" if rt.namespaced else ""
            params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                      for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
            paths[f"{prefix}{scope}/{rt.plural}/{{name}}"] = {"patch": {
                "operationId": f"patch{rt.kind}", "parameters": params, "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]}, "paths": paths}

    def openapi_root(self):
        versions = sorted({rt.gv for rt in self.types.values()})
        return {"paths": {("api/" if gv == "v1" else "apis/") + gv: {
            "serverRelativeURL": f"/openapi/v3/{'api' if gv == 'v1' else 'apis'}/{gv}?hash="
                                 + hashlib.sha256(canon(self.openapi_v3(gv)).encode()).hexdigest()[:32].upper()}
            for gv in versions}}

    # ----- helpers -----

    def bucket(self, rt):
        return self.objects.setdefault((rt.group, rt.plural), {})

    @staticmethod
    def present(rt, obj):
        """A copy to answer with, apiVersion as requested and metadata in ObjectMeta's field order."""
        meta = obj.get("metadata", {})
        order = lambda key: META_ORDER.index(key) if key in META_ORDER else len(META_ORDER)  # noqa: E731
        out = {"apiVersion": rt.gv, "kind": rt.kind, "metadata": {k: copy.deepcopy(meta[k]) for k in sorted(meta, key=order)}}
        out.update((k, copy.deepcopy(v)) for k, v in obj.items() if k not in out)
        return out

    def namespace_check(self, rt, ns, name, creating):
        if not rt.namespaced:
            return
        namespace = self.objects.get(("", "namespaces"), {}).get(("", ns))
        if namespace is None:
            raise namespace_not_found(ns)
        if creating and namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f'{rt.qualified} "{name}" is forbidden: unable to create new content in '
                           f"namespace {ns} because it is being terminated", details_for(rt, name))

    def admission(self, rt, obj):
        for rule in self.deny_rules:
            if rule.get("kind") == rt.kind and rule.get("name") in (None, obj["metadata"].get("name")) \
                    and rule.get("namespace") in (None, obj["metadata"].get("namespace")):
                raise ApiError(400, "", f'admission webhook "{WEBHOOK}" denied the request: {rule.get("message", "")}')

    # ----- managed fields -----

    def entries(self, obj):
        return [(entry, from_fields_v1(entry.get("fieldsV1"))) for entry in obj["metadata"].get("managedFields") or []]

    @staticmethod
    def same_manager(entry, write):
        if entry.get("manager") != write.manager or entry.get("operation") != write.operation \
                or entry.get("subresource", "") != write.subresource:
            return False
        return write.operation == "Apply" or entry.get("apiVersion") == write.api_version

    def record(self, entries, write, fields, replace):
        """Gives `write`'s manager `fields` (replacing its set for Apply), taking them from everyone else."""
        result, mine = [], None
        for entry, owned in entries:
            if self.same_manager(entry, write):
                mine = (entry, owned)
            else:
                result.append((entry, owned if write.operation == "Apply" else owned - fields))
        if mine is None:
            entry = {"manager": write.manager, "operation": write.operation, "apiVersion": write.api_version}
            if write.subresource:
                entry["subresource"] = write.subresource
            mine = (entry, set())
        entry = dict(mine[0], apiVersion=write.api_version)
        result.append((entry, set(fields) if replace else mine[1] | fields))
        return result

    def encode_entries(self, obj, entries, old_obj, shape, touched=None, acting=None):
        """Drops fields that no longer exist and empty entries. Only the acting manager's time moves: when the
        object changed (`touched`) or its own field set did."""
        previous = {(e.get("manager"), e.get("operation"), e.get("apiVersion"), e.get("subresource", "")): (e, s)
                    for e, s in (self.entries(old_obj) if old_obj else [])}
        encoded = []
        for entry, owned in entries:
            owned = {path for path in owned if get_at(obj, path, shape) is not MISSING}
            if not owned:
                continue
            key = (entry.get("manager"), entry.get("operation"), entry.get("apiVersion"), entry.get("subresource", ""))
            prior = previous.get(key)
            out = {"manager": entry["manager"], "operation": entry["operation"], "apiVersion": entry["apiVersion"],
                   "time": now() if prior is None or (touched and self.same_manager(entry, touched))
                   or (prior[1] != owned and acting and self.same_manager(entry, acting)) else prior[0].get("time"),
                   "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(owned)}
            if entry.get("subresource"):
                out["subresource"] = entry["subresource"]
            encoded.append(out)
        encoded.sort(key=lambda e: (e["operation"], e["time"], e["manager"], e["apiVersion"], e.get("subresource", "")))
        return encoded

    # ----- the write funnel -----

    def commit(self, rt, ns, name, old, new, write, fields=None, entries=None, reset_fields=False):
        """Defaults, validates, admits and (unless dry-run) stores `new`; returns (status code, object).

        `fields` is the applied field set for Apply; for Update operations the changed fields are computed here.
        """
        shape = Shape(rt)
        new = without_nulls(new)
        if write.subresource in ("status", "scale"):  # a subresource write changes only its part
            kept = copy.deepcopy(old)
            if write.subresource == "status":
                kept["status"] = new.get("status", {})
            else:
                kept["spec"]["replicas"] = new["spec"]["replicas"]
            new = kept
        meta = new.setdefault("metadata", {})
        meta["name"], new["apiVersion"], new["kind"] = name, rt.gv, rt.kind
        if rt.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if old is not None:
            for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if field in old["metadata"]:
                    meta[field] = old["metadata"][field]
                else:
                    meta.pop(field, None)
        if rt.has_status and write.subresource != "status":
            if old is not None and "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            elif old is not None or rt.custom:
                new.pop("status", None)
            else:
                new["status"] = copy.deepcopy(INITIAL_STATUS.get(rt.kind, {}))
        decode_check(rt, new)
        apply_defaults(rt.kind, new, old, self.cluster_ip(write.dry_run))
        validate(rt, new, old)
        if write.subresource == "":
            self.admission(rt, new)
        if rt.generation:
            generation = old["metadata"].get("generation", 1) if old else 1
            meta["generation"] = generation + 1 if old is not None and spec_part(rt, old) != spec_part(rt, new) else generation
        else:
            meta.pop("generation", None)
        # managed fields
        if reset_fields:
            meta.pop("managedFields", None)
        else:
            if entries is None:
                entries = self.entries(old) if old else []
            if write.operation == "Update":
                main_write = rt.has_status and write.subresource == ""
                view = lambda o: {k: v for k, v in o.items() if not (main_write and k == "status")}  # noqa: E731
                fields = changed_fields(view(old) if old else MISSING, view(new), shape)
                entries = self.record(entries, write, fields, replace=False) if fields else entries
            else:
                entries = self.record(entries, write, fields, replace=True)
            content_changed = old is None or canon(without_fields(old)) != canon(without_fields(new))
            meta["managedFields"] = self.encode_entries(new, entries, old, shape, write if content_changed else None, write)
            if not meta["managedFields"]:
                del meta["managedFields"]
        if old is not None:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            unchanged = canon(without_nulls(old)) == canon(new)
            if unchanged:
                return 200, self.present(rt, old)
        if write.dry_run:
            if old is None:
                meta.pop("resourceVersion", None)
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", now())
            return (201 if old is None else 200), self.present(rt, new)
        if old is None:
            meta["uid"], meta["creationTimestamp"] = str(uuid.uuid4()), now()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.bucket(rt).pop((ns, name), None)
            self.bump()
            self.after_delete(rt, new)
            return 200, self.present(rt, new)
        meta["resourceVersion"] = self.bump()
        self.bucket(rt)[(ns, name)] = new
        response = self.present(rt, new)
        self.after_write(rt, old, new)
        return (201 if old is None else 200), response

    def after_write(self, rt, old, new):
        if rt.kind == "CustomResourceDefinition":
            if old is None:
                self.start_crd(new)
            else:
                self.serve_crd(new)
        if self.options.rollout == "instant" and rt.kind in ("Deployment", "StatefulSet", "DaemonSet") \
                and (old is None or old["metadata"].get("generation") != new["metadata"].get("generation")):
            self.controller_status(rt, new, rollout_status(rt.kind, new), "kube-controller-manager")

    def controller_status(self, rt, obj, status, manager):
        """A controller's status write: a separate revision and a managedFields entry, as a controller makes."""
        old = copy.deepcopy(obj)
        obj["status"] = status
        write = Write(manager, "Update", rt.gv, "status")
        fields = changed_fields(old.get("status", MISSING), status, Shape(rt), (("f", "status"),), ("status",))
        entries = self.record(self.entries(old), write, fields, replace=False)
        obj["metadata"]["managedFields"] = self.encode_entries(obj, entries, old, Shape(rt), write)
        obj["metadata"]["resourceVersion"] = self.bump()

    # ----- CRDs -----

    def start_crd(self, crd):
        crd["status"] = {"conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now(), "reason": "NoConflicts",
             "message": "no conflicts found"},
            {"type": "Established", "status": "False", "lastTransitionTime": now(), "reason": "Installing",
             "message": "the initial names have been accepted"}],
            "acceptedNames": copy.deepcopy(crd["spec"]["names"]),
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]}
        uid = crd["metadata"]["uid"]
        timer = threading.Timer(self.options.crd_establish_seconds, self.establish_crd, (crd["metadata"]["name"], uid))
        timer.daemon = True
        timer.start()

    def establish_crd(self, name, uid):
        with LOCK:
            rt = self.types[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]
            crd = self.bucket(rt).get(("", name))
            if crd is None or crd["metadata"]["uid"] != uid:
                return
            status = copy.deepcopy(crd["status"])
            status["conditions"][1] = {"type": "Established", "status": "True", "lastTransitionTime": now(),
                                       "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
            self.controller_status(rt, crd, status, "kube-apiserver")
            self.serve_crd(crd)

    def serve_crd(self, crd):
        spec = crd["spec"]
        established = any(c["type"] == "Established" and c["status"] == "True" for c in crd.get("status", {}).get("conditions", []))
        for key in [k for k, rt in self.types.items() if rt.custom and (rt.group, rt.plural) == (spec["group"], spec["names"]["plural"])]:
            del self.types[key]
        if not established:
            return
        names = spec["names"]
        for version in spec["versions"]:
            if version.get("served", True):
                subresources = ["status"] if "status" in (version.get("subresources") or {}) else []
                schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
                self.types[(spec["group"], version["name"], names["plural"])] = ResourceType(
                    spec["group"], version["name"], names["plural"], names["kind"], spec["scope"] == "Namespaced",
                    names.get("shortNames", []), subresources, True, names.get("categories", []), schema, True,
                    names.get("singular"))

    # ----- deletion -----

    def after_delete(self, rt, obj):
        """Garbage collection the stand-in does at once: CRD instances, namespace contents, dependents."""
        if rt.kind == "CustomResourceDefinition":
            spec = obj["spec"]
            for key in [k for k, t in self.types.items() if t.custom and (t.group, t.plural) == (spec["group"], spec["names"]["plural"])]:
                del self.types[key]
            self.objects.pop((spec["group"], spec["names"]["plural"]), None)
        if rt.kind == "Namespace":
            for bucket in self.objects.values():
                for key in [k for k in bucket if k[0] == obj["metadata"]["name"]]:
                    del bucket[key]
        self.delete_dependents(obj["metadata"]["uid"], "Background")

    def delete_dependents(self, uid, policy):
        for (group, plural), bucket in list(self.objects.items()):
            for key, dependent in list(bucket.items()):
                owners = dependent["metadata"].get("ownerReferences") or []
                if not any(o.get("uid") == uid for o in owners):
                    continue
                self.bump()
                if policy == "Orphan":
                    remaining = [o for o in owners if o.get("uid") != uid]
                    dependent["metadata"]["ownerReferences"] = remaining
                    if not remaining:
                        del dependent["metadata"]["ownerReferences"]
                    dependent["metadata"]["resourceVersion"] = str(self.revision)
                else:
                    del bucket[key]
                    self.delete_dependents(dependent["metadata"]["uid"], policy)

    def finish_deletion(self, group, plural, key, uid):
        with LOCK:
            bucket = self.objects.get((group, plural), {})
            obj = bucket.get(key)
            if obj is None or obj["metadata"]["uid"] != uid:
                return
            rt = next((t for t in self.types.values() if (t.group, t.plural) == (group, plural)), None)
            finalizers = [f for f in obj["metadata"].get("finalizers", []) if f not in ("foregroundDeletion", "kubernetes")]
            self.delete_dependents(uid, "Foreground")
            if finalizers:
                obj["metadata"]["finalizers"] = finalizers
                obj["metadata"]["resourceVersion"] = self.bump()
                return
            del bucket[key]
            self.bump()
            if rt is not None:
                self.after_delete(rt, obj)

    def delete(self, rt, ns, name, options, dry_run):
        bucket = self.bucket(rt)
        obj = bucket.get((ns, name))
        if obj is None:
            raise not_found(rt, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise conflict(rt, name, f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {obj["metadata"]["uid"]}')
        if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise conflict(rt, name, f'Precondition failed: ResourceVersion in precondition: {pre["resourceVersion"]}, '
                                     f'ResourceVersion in object meta: {obj["metadata"]["resourceVersion"]}')
        policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
        meta = obj["metadata"]
        graceful = policy == "Foreground" or meta.get("finalizers") or rt.kind == "Namespace"
        if not graceful:
            success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                       "details": dict(details_for(rt, name), uid=meta["uid"])}
            if not dry_run:
                del bucket[(ns, name)]
                self.bump()
                if policy == "Orphan":
                    self.delete_dependents(meta["uid"], "Orphan")
                self.after_delete(rt, obj)
            return 200, success
        result = copy.deepcopy(obj)
        if not meta.get("deletionTimestamp"):
            result["metadata"]["deletionTimestamp"] = now()
            result["metadata"]["deletionGracePeriodSeconds"] = 0
            if policy == "Foreground":
                result["metadata"]["finalizers"] = meta.get("finalizers", []) + ["foregroundDeletion"]
            if rt.kind == "Namespace":
                result["status"] = {"phase": "Terminating"}
            if not dry_run:
                result["metadata"]["resourceVersion"] = self.bump()
                bucket[(ns, name)] = result
                if policy == "Foreground" or rt.kind == "Namespace":
                    timer = threading.Timer(0.05, self.finish_deletion, (rt.group, rt.plural, (ns, name), meta["uid"]))
                    timer.daemon = True
                    timer.start()
        return 200, self.present(rt, result)

    # ----- server-side apply -----

    def apply(self, rt, ns, name, body, write, force):
        shape = Shape(rt)
        write.operation = "Apply"
        meta = body.get("metadata") or {}
        if meta.get("managedFields") is not None:
            raise bad_request("metadata.managedFields must be nil")
        if body.get("kind") != rt.kind or body.get("apiVersion") != rt.gv:
            raise bad_request(f'the API version in the data ({body.get("apiVersion")}) and kind ({body.get("kind")}) do not '
                              f'match the expected API version ({rt.gv}) and kind ({rt.kind})')
        if meta.get("name", name) != name:
            raise bad_request(f'the name of the object ({meta["name"]}) does not match the name on the URL ({name})')
        if rt.namespaced and meta.get("namespace", ns) != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        body = without_nulls(body)
        if rt.has_status and write.subresource != "status":
            body.pop("status", None)
        elif write.subresource == "status":
            body = {k: v for k, v in body.items() if k in ("apiVersion", "kind", "metadata", "status")}
            body["metadata"] = {k: v for k, v in meta.items() if k in ("name", "namespace")}
        old = self.bucket(rt).get((ns, name))
        if old is None and write.subresource:
            raise not_found(rt, name)
        self.namespace_check(rt, ns, name, old is None)
        if old is not None and meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name, MODIFIED)
        live = copy.deepcopy(old) if old is not None else {}
        fields = applied_fields(body, shape)
        merged = apply_merge(live, body, shape)
        entries = self.entries(old) if old is not None else []
        # conflicts: fields another manager owns whose value this apply changes
        conflicts = []
        leaves = {p for p in fields if not any(len(q) > len(p) and q[:len(p)] == p for q in fields)}
        for index, (entry, owned) in enumerate(entries):
            if self.same_manager(entry, write):
                continue
            for path in sorted(owned & leaves, key=path_text):
                if get_at(live, path, shape) != get_at(merged, path, shape):
                    conflicts.append((index, entry, path))
        if conflicts and not force:
            raise apply_conflict(conflicts)
        for index, entry, path in conflicts:
            entries[index][1].discard(path)
        # removal: fields this manager applied before, no longer applies, and nobody else owns
        before = next((owned for entry, owned in entries if self.same_manager(entry, write)), set())
        others = set().union(*[owned for entry, owned in entries if not self.same_manager(entry, write)])
        gone = []
        for path in sorted(before - fields - others, key=len):
            if any(path[:len(g)] == g for g in gone):
                continue  # inside an item already removed whole
            if path[-1][0] == "k" and any(q[:len(path)] == path for q in others | fields):
                continue  # someone still owns part of the item: remove only the fields nobody owns
            if len(path) > 1 and path[-2][0] == "k" and path[-1][1] in json.loads(path[-2][1]):
                continue  # an item's key field goes only with the item
            remove_at(merged, path, shape)
            gone.append(path)
        for path in gone:
            self.prune_empty(merged, path[:-1], fields | others, shape)
        return self.commit(rt, ns, name, old, merged, write, fields=fields, entries=entries)

    @staticmethod
    def prune_empty(obj, path, owned, shape):
        while path and path not in owned and path[-1][0] == "f" and path[-1][1] not in ALWAYS_PRESENT:
            value = get_at(obj, path, shape)
            if value not in ({}, []):
                return
            remove_at(obj, path, shape)
            path = path[:-1]


def apply_merge(live, config, shape, names=()):
    if isinstance(config, dict) and isinstance(live, dict) and not shape.atomic_map(names):
        out = copy.deepcopy(live)
        for field, value in config.items():
            out[field] = apply_merge(live.get(field, MISSING), value, shape, names + (field,))
        return out
    if isinstance(config, list) and isinstance(live, list):
        kind, keys = shape.list_type(names)
        if kind == "set":
            return copy.deepcopy(live) + [v for v in config if v not in live]
        if kind == "map" and all(item_key(item, keys) is not None for item in config + live):
            out = copy.deepcopy(live)
            for item in config:
                position = next((i for i, x in enumerate(out) if item_key(x, keys) == item_key(item, keys)), None)
                if position is None:
                    out.append(copy.deepcopy(item))
                else:
                    out[position] = apply_merge(out[position], item, shape, names)
            return out
    return copy.deepcopy(config)


def manager_text(entry):
    text = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        text += f' with subresource "{entry["subresource"]}"'
    return f'{text} using {entry.get("apiVersion")}'


def apply_conflict(conflicts):
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {manager_text(entry)}", "field": path_text(path)}
              for _, entry, path in conflicts]
    if len(conflicts) == 1:
        _, entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager_text(entry)}: {path_text(path)}"
    else:
        lines, by_manager = [], {}
        for _, entry, path in conflicts:
            by_manager.setdefault(manager_text(entry), []).append(path_text(path))
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines += [f"- {p}" for p in by_manager[manager]]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

JSON_TYPES = ("", "application/json", "application/merge-patch+json", "application/strategic-merge-patch+json",
              "application/json-patch+json", "application/apply-patch+yaml")


class Request:
    def __init__(self, handler, user):
        split = urllib.parse.urlsplit(handler.path)
        self.method, self.path = handler.command, split.path
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        self.user, self.body = user, handler.body
        self.content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        agent = handler.headers.get("User-Agent") or ""
        self.default_manager = agent.split("/")[0][:128] if agent else ""
        self.dry_run = self.query.get("dryRun") == "All"

    def json_body(self):
        if self.content_type not in JSON_TYPES:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                           "media types include: application/json, application/merge-patch+json, "
                           "application/strategic-merge-patch+json, application/json-patch+json, application/apply-patch+yaml")
        try:
            return json.loads(self.body or b"null")
        except ValueError as error:
            if self.content_type == "application/apply-patch+yaml":
                raise bad_request("the stand-in accepts apply patches in JSON only (YAML is not implemented)") from None
            raise bad_request(f"couldn't get version/kind; json parse error: {error}") from None

    def manager(self):
        return self.query.get("fieldManager") or self.default_manager


class Api:
    def __init__(self, cluster):
        self.cluster = cluster

    def route(self, request):
        parts = [p for p in request.path.split("/") if p]
        if request.path == "/version":
            return 200, VERSION
        if parts == ["openapi", "v3"]:
            return 200, self.cluster.openapi_root()
        if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            group_version = "/".join(parts[3:])
            if not any(rt.gv == group_version for rt in self.cluster.types.values()):
                raise RESOURCE_NOT_FOUND
            return 200, self.cluster.openapi_v3(group_version)
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.cluster.options.port}"}]}
        if parts == ["apis"]:
            groups = [self.cluster.group_document(g) for g in self.cluster.groups()]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 2 and parts[0] == "apis":
            if len(parts) == 2:
                document = self.cluster.group_document(parts[1])
                if document is None:
                    raise RESOURCE_NOT_FOUND
                return 200, dict(kind="APIGroup", apiVersion="v1", **document)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise RESOURCE_NOT_FOUND
        if not rest:
            document = self.cluster.resource_list(group, version)
            if document is None:
                raise RESOURCE_NOT_FOUND
            return 200, document
        namespace = None
        if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise RESOURCE_NOT_FOUND
        plural, name, subresource = (rest + [None, None])[:3]
        rt = self.cluster.types.get((group, version, plural))
        if rt is None or (namespace is not None and not rt.namespaced) or (subresource and subresource not in rt.subresources):
            raise RESOURCE_NOT_FOUND
        verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(request.method)
        self.authorize(request, rt, verb, namespace, name, subresource)
        return self.serve(request, rt, verb, namespace or "", name, subresource or "")

    def authorize(self, request, rt, verb, namespace, name, subresource):
        resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
        for rule in self.cluster.forbid_rules:
            if rule["verb"] in ("*", verb) and rule["resource"] in ("*", resource) \
                    and (not rule.get("namespace") or rule["namespace"] == namespace):
                scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
                reason = f'User "{request.user}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}'
                subject = f'{rt.qualified} "{name}"' if name else rt.qualified
                raise ApiError(403, "Forbidden", f"{subject} is forbidden: {reason}", details_for(rt, name))

    def serve(self, request, rt, verb, ns, name, subresource):
        cluster = self.cluster
        if request.query.get("watch") in ("true", "1"):
            raise ApiError(405, "MethodNotAllowed", "the stand-in does not implement watch")
        if rt.namespaced and not ns and verb != "list":
            raise RESOURCE_NOT_FOUND
        if verb in ("list", "deletecollection"):
            return self.list_or_delete(request, rt, ns, verb)
        if verb == "create":
            if subresource or name:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return self.create(request, rt, ns)
        obj = cluster.bucket(rt).get((ns, name))
        if verb == "get":
            if obj is None:
                raise not_found(rt, name)
            return 200, scale_of(rt, obj) if subresource == "scale" else cluster.present(rt, obj)
        if verb == "delete":
            if subresource:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            options = request.json_body() if request.body else {}
            options = options or {}
            if "propagationPolicy" in request.query:
                options["propagationPolicy"] = request.query["propagationPolicy"]
            dry_run = request.dry_run or "All" in (options.get("dryRun") or [])
            return cluster.delete(rt, ns, name, options, dry_run)
        write = Write(request.manager(), "Update", rt.gv, subresource, request.dry_run)
        if request.content_type == "application/apply-patch+yaml":
            if verb != "patch" or subresource == "scale":
                raise ApiError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
            if not request.query.get("fieldManager"):
                cause = required("fieldManager", "is required for apply patch")
                raise ApiError(422, "Invalid", f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: {cause[2]}',
                               {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                                   {"reason": cause[0], "message": cause[2], "field": cause[1]}]})
            body = request.json_body()
            if not isinstance(body, dict):
                raise bad_request("the body of an apply patch must be an object")
            return cluster.apply(rt, ns, name, body, write, request.query.get("force") == "true")
        if obj is None:
            raise not_found(rt, name)
        current = scale_of(rt, obj) if subresource == "scale" else cluster.present(rt, obj)
        if verb == "update":
            if request.content_type not in ("application/json", ""):
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json")
            desired = request.json_body()
            if not isinstance(desired, dict):
                raise bad_request("the body of the request must be an object")
            if subresource != "scale":
                check_type(rt, desired)
        else:
            desired = self.patched(request, rt, current)
        given = (desired.get("metadata") or {})
        if given.get("name", name) != name:
            raise bad_request(f'the name of the object ({given["name"]}) does not match the name on the URL ({name})')
        if given.get("resourceVersion") and given["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise conflict(rt, name, MODIFIED)
        if subresource == "scale":
            replicas = (desired.get("spec") or {}).get("replicas", 0)
            desired = copy.deepcopy(obj)
            desired["spec"]["replicas"] = replicas
        reset = given.get("managedFields") == [] and subresource == ""
        status, result = cluster.commit(rt, ns, name, obj, desired, write, reset_fields=reset)
        if subresource == "scale":
            stored = cluster.bucket(rt).get((ns, name)) if not write.dry_run else result
            return status, scale_of(rt, stored)
        return status, result

    def patched(self, request, rt, current):
        patch = request.json_body()
        kind = request.content_type
        if kind == "application/merge-patch+json":
            return merge_patch(current, patch)
        if kind == "application/strategic-merge-patch+json" and not rt.custom:
            return strategic_merge(current, patch, Shape(rt))
        if kind == "application/json-patch+json":
            if not isinstance(patch, list):
                raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            return json_patch(current, patch)
        raise ApiError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)

    def create(self, request, rt, ns):
        cluster = self.cluster
        body = request.json_body()
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be an object")
        check_type(rt, body)
        meta = body.setdefault("metadata", {})
        if rt.namespaced and meta.get("namespace", ns) != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        name = meta.get("name", "")
        if not name:
            validate(rt, body, None)
        cluster.namespace_check(rt, ns, name, creating=True)
        if (ns, name) in cluster.bucket(rt):
            raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', details_for(rt, name))
        for field in ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp"):
            meta.pop(field, None)
        reset = meta.pop("managedFields", None) == []
        write = Write(request.manager(), "Update", rt.gv, "", request.dry_run)
        return cluster.commit(rt, ns, name, None, body, write, reset_fields=reset)

    def list_or_delete(self, request, rt, ns, verb):
        cluster = self.cluster
        labels = parse_selector(request.query.get("labelSelector"))
        fields = {}
        for requirement in (request.query.get("fieldSelector") or "").split(","):
            if requirement:
                key, _, value = requirement.partition("=")
                if key.rstrip("=") not in ("metadata.name", "metadata.namespace"):
                    raise bad_request(f'"{key.rstrip("=")}" is not a known field selector: only "metadata.name", "metadata.namespace"')
                fields[key.rstrip("=")] = value.lstrip("=")
        items = []
        for (item_ns, item_name), obj in sorted(cluster.bucket(rt).items()):
            if (ns and item_ns != ns) or not selector_matches(labels, obj["metadata"].get("labels") or {}):
                continue
            if fields.get("metadata.name", item_name) != item_name or fields.get("metadata.namespace", item_ns) != item_ns:
                continue
            items.append(obj)
        if verb == "deletecollection":
            for obj in items:
                cluster.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], {}, request.dry_run)
        out = []
        for obj in items:
            entry = cluster.present(rt, obj)
            if not rt.custom:  # typed lists carry no kind/apiVersion on their items
                entry.pop("apiVersion"), entry.pop("kind")
            out.append(entry)
        return 200, {"kind": f"{rt.kind}List", "apiVersion": rt.gv, "metadata": {"resourceVersion": str(cluster.revision)},
                     "items": out}


def check_type(rt, body):
    if body.get("apiVersion", rt.gv) != rt.gv:
        raise bad_request(f'the API version in the data ({body["apiVersion"]}) does not match the expected API version ({rt.gv})')
    if body.get("kind", rt.kind) != rt.kind:
        raise bad_request(f'the kind in the data ({body["kind"]}) does not match the expected kind ({rt.kind})')


def scale_of(rt, obj):
    meta = obj["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in sorted(((obj.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items()))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector}}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm holds the
    # body until the client's delayed ACK (40 ms) on every keep-alive request.
    disable_nagle_algorithm = True
    cluster = api = None

    def handle(self):
        if isinstance(self.request, ssl.SSLSocket):  # handshake here, on this connection's thread
            try:
                self.request.settimeout(10)
                self.request.do_handshake()
                self.request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        super().handle()

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def user(self):
        options = self.cluster.options
        header = self.headers.get("Authorization") or ""
        if header.startswith("Bearer ") and header[7:].strip() in (options.token or []):
            return TOKEN_USER
        if options.client_ca and isinstance(self.request, ssl.SSLSocket):
            cert = self.request.getpeercert()
            if cert:
                for rdn in cert.get("subject", ()):
                    for key, value in rdn:
                        if key == "commonName":
                            return value
        if options.token or options.client_ca:
            return None
        return "system:anonymous"

    def handle_any(self):
        self.body = self.read_body()
        if urllib.parse.urlsplit(self.path).path in ("/healthz", "/livez", "/readyz"):
            return self.reply(200, "ok")
        if self.path.startswith("/_standin/"):
            with LOCK:
                status, payload = self.control()
            return self.reply(status, payload)
        user = self.user()
        request = Request(self, user)
        routed = 0.0
        try:
            if user is None:
                raise UNAUTHORIZED
            with LOCK:
                started = time.perf_counter()
                status, payload = self.api.route(request)
                routed = time.perf_counter() - started
        except ApiError as error:
            status, payload = error.code, error.status()
        except Exception as error:  # noqa: BLE001 - a stand-in reports its own bugs as 500 Status
            traceback.print_exc()
            status, payload = 500, ApiError(500, "InternalError", f"Internal error occurred: {error!r}").status()
        body = {}
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            pass
        policy = request.query.get("propagationPolicy") or (body.get("propagationPolicy") if isinstance(body, dict) else None)
        # Logged before answering, so a client that has its answer finds the request in the log.
        # `seconds`: time spent on the request under the one lock, so requests' times add up to the
        # stand-in's serial work (benchmarks report it; HTTP, TLS and JSON are outside it).
        with LOCK:
            self.cluster.requests.append({
                "method": request.method, "path": request.path, "query": request.query, "dryRun": request.dry_run
                or (isinstance(body, dict) and "All" in (body.get("dryRun") or []) and request.method == "DELETE"),
                "fieldManager": request.manager() if request.method in ("POST", "PUT", "PATCH") else request.query.get("fieldManager"),
                "contentType": request.content_type, "propagationPolicy": policy, "status": status, "user": user,
                "seconds": round(routed, 6)})
        self.reply(status, payload)

    def control(self):
        cluster, path = self.cluster, urllib.parse.urlsplit(self.path).path
        body = json.loads(self.body or b"{}") if self.command == "POST" else None
        if path == "/_standin/forbid" and self.command == "POST":
            cluster.forbid_rules.append(body)
        elif path == "/_standin/forbid" and self.command == "DELETE":
            cluster.forbid_rules.clear()
        elif path == "/_standin/deny" and self.command == "POST":
            cluster.deny_rules.append(body)
        elif path == "/_standin/deny" and self.command == "DELETE":
            cluster.deny_rules.clear()
        elif path == "/_standin/requests" and self.command == "GET":
            return 200, cluster.requests
        elif path == "/_standin/requests" and self.command == "DELETE":
            cluster.requests.clear()
        else:
            return 404, {"error": f"no control endpoint {self.command} {path}"}
        return 200, {"ok": True}

    def reply(self, status, payload):
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--client-ca")
    parser.add_argument("--token", action="append")
    parser.add_argument("--kubeconfig-out")
    parser.add_argument("--rollout", choices=["manual", "instant"], default="manual")
    parser.add_argument("--crd-establish-seconds", type=float, default=0.3)
    parser.add_argument("--forbid", action="append", help="VERB:RESOURCE[:NAMESPACE]")
    options = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    options.port = server.server_address[1]
    scheme = "http"
    if options.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        if options.client_ca:
            context.load_verify_locations(options.client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    Handler.cluster = Cluster(options)
    Handler.api = Api(Handler.cluster)
    if options.kubeconfig_out:
        cluster = {"server": f"{scheme}://127.0.0.1:{options.port}"}
        if options.tls_cert:
            cluster["certificate-authority"] = os.path.abspath(options.tls_cert)
        user = {"token": options.token[0]} if options.token else {}
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "standin", "preferences": {},
                  "clusters": [{"name": "standin", "cluster": cluster}], "users": [{"name": "standin", "user": user}],
                  "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}]}
        with open(options.kubeconfig_out, "w") as out:
            json.dump(config, out, indent=2)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"PORT={options.port}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
