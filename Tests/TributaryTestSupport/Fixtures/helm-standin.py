#!/usr/bin/env python3
"""A stand-in for `helm template`, for tests on machines without Helm.

It accepts exactly the arguments Argo CD's way of calling `helm template` uses, checks them the
way helm would (a chart in the working directory, every --values file readable), records what it
was given (arguments, environment, working directory) as JSON in $HELM_STANDIN_RECORD when set, and
prints one ConfigMap per chart template holding the values it was given. A wrong argument exits 1
with an `Error:` line on stderr, as helm does.
"""
import json
import os
import sys

args = sys.argv[1:]


def fail(message):
    print("Error: " + message, file=sys.stderr)
    sys.exit(1)


if args[:1] != ["template"]:
    fail("expected the template command, got %r" % args[:1])
if len(args) < 3 or args[2] != ".":
    fail("expected `template RELEASE .`")
if not os.path.isfile("Chart.yaml"):
    fail("Chart.yaml file is missing in " + os.getcwd())
release = args[1]
flags = {}
values = []
i = 3
while i < len(args):
    flag = args[i]
    if flag in ("--namespace", "--kube-version", "--api-versions", "--values", "--set", "--set-string"):
        if i + 1 >= len(args):
            fail("flag needs an argument: " + flag)
        value = args[i + 1]
        i += 2
        if flag == "--values":
            if not os.path.isfile(value):
                fail("open %s: no such file or directory" % value)
            with open(value) as handle:
                values.append(handle.read())
        flags.setdefault(flag, []).append(value)
    elif flag in ("--include-crds", "--skip-crds"):
        flags[flag] = True
        i += 1
    else:
        fail("unknown flag: " + flag)
if "--include-crds" in flags and "--skip-crds" in flags:
    fail("--include-crds and --skip-crds together")

record = os.environ.get("HELM_STANDIN_RECORD")
if record:
    with open(record, "w") as handle:
        json.dump({"args": args, "env": dict(os.environ), "cwd": os.getcwd()}, handle)

for template in sorted(os.listdir("templates")) if os.path.isdir("templates") else []:
    name = "%s-%s" % (release, template.rsplit(".", 1)[0])
    print("---")
    print("# Source: chart/templates/" + template)
    print(json.dumps({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/instance": release}},
        "data": {"values": "".join(values), "set": ",".join(flags.get("--set", [])), "setString": ",".join(flags.get("--set-string", []))},
    }))
