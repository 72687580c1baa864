#!/usr/bin/env python3
"""Writes the seed inputs of each fuzz target into Tests/Fuzz/corpus/<target>/ (scripts/fuzz runs
it when a corpus is missing; the committed corpora are these seeds merged with what fuzzing found).
The input layouts are documented in Tests/TributaryFuzzTests/FuzzHarness.swift."""
import hashlib, json, os, pathlib, sys

root = pathlib.Path(__file__).resolve().parent
package = root.parent.parent
zero, a, b = "0" * 40, "a" * 40, "b" * 40
providers = ["github", "gitlab", "gitea", "forgejo", "bitbucket", "bitbucket-server", "standard"]
commits = [{"id": b, "added": ["apps/shop/new.yaml"], "modified": ["apps/shop/deploy.yaml"], "removed": []}]
bodies = {
    "github": {"ref": "refs/heads/main", "before": a, "after": b, "created": False, "deleted": False, "forced": False,
               "repository": {"full_name": "acme/infra", "clone_url": "https://github.com/acme/infra.git", "html_url": "https://github.com/acme/infra"},
               "pusher": {"name": "octocat"}, "commits": commits},
    "gitlab": {"object_kind": "push", "ref": "refs/heads/main", "before": a, "after": b, "user_username": "gl",
               "project": {"git_http_url": "https://gitlab.example.com/p/infra.git", "web_url": "https://gitlab.example.com/p/infra", "path_with_namespace": "p/infra"},
               "commits": commits, "total_commits_count": 1},
    "gitea": {"ref": "refs/heads/main", "before": a, "after": b, "total_commits": 1,
              "repository": {"full_name": "acme/infra", "clone_url": "https://gitea.example.com/acme/infra.git"}, "pusher": {"login": "u"}, "commits": commits},
    "bitbucket": {"push": {"changes": [{"created": False, "closed": False, "forced": False, "old": {"type": "branch", "name": "main", "target": {"hash": a}},
                                        "new": {"type": "branch", "name": "main", "target": {"hash": b}}}]},
                  "repository": {"full_name": "acme/infra", "links": {"html": {"href": "https://bitbucket.org/acme/infra"}}}, "actor": {"nickname": "bb"}},
    "bitbucket-server": {"eventKey": "repo:refs_changed", "changes": [{"ref": {"id": "refs/heads/main", "type": "BRANCH"}, "fromHash": a, "toHash": b, "type": "UPDATE"}],
                         "repository": {"slug": "infra", "project": {"key": "ACME"}, "links": {"clone": [{"href": "https://bitbucket.example.com/scm/acme/infra.git", "name": "http"}]}},
                         "actor": {"name": "bbs"}},
    "standard": {"type": "push", "repository": {"url": "https://git.example.com/acme/infra.git"}, "ref": "refs/heads/main", "before": a, "after": b,
                 "pusher": "ci", "changedPaths": {"added": [], "modified": ["x"], "removed": [], "complete": False}},
}
bodies["forgejo"] = bodies["gitea"]
events = {"github": "push", "gitlab": "Push Hook", "gitea": "push", "forgejo": "push", "bitbucket": "repo:push", "bitbucket-server": "repo:refs_changed", "standard": "push"}

def write(target, data):
    directory = root / "corpus" / target
    directory.mkdir(parents=True, exist_ok=True)
    data = data if isinstance(data, bytes) else data.encode()
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)

for index, provider in enumerate(providers):
    body = json.dumps(bodies[provider]).encode()
    event = events[provider].encode()
    write("webhook", bytes([index | 0x20]) + event + b"\0\0\0" + body)                       # parse as JSON
    write("webhook", bytes([index | 0x30]) + event + b"\0\0\0" + b"payload=" + body.replace(b" ", b"+"))  # form
    write("webhook", bytes([index]) + event + b"\0sha256=" + b"0" * 64 + b"\0" + b"1800000000" + b"\0" + body)  # verify
    write("webhook", bytes([index]) + event + b"\0v1,AAAA v1a,BBBB\0msg_1\0" + body)
    write("webhook", bytes([index | 0x20]) + b"ping\0\0\0{\"zen\":\"hi\",\"hook_id\":1}")
    write("json-tape", body)
json_samples = ['{}', '[]', '"\\u00e9\\ud83d\\ude00"', '[1, -2.5e10, 0, true, false, null]', '{"a": {"b": [{"c": "d\\n"}]}}',
                '  {"key" : "value" , "n" : 12345678901234567890 }  ', '[[[[[[[[[[]]]]]]]]]]', '{"a":"\\"\\\\\\/\\b\\f\\n\\r\\t"}']
for sample in json_samples:
    write("json-tape", sample)

for name in ["example.yaml", "dev.yaml"]:
    text = (package / "config" / name).read_text()
    write("configuration", "\n".join(line for line in text.split("\n") if "definitions" not in line))
for snippet in ["kafka: { brokers: embedded, partitions: 3 }\n", "listener:\n  address: 127.0.0.1:8080\n  deduplicationWindow: 1h\n",
                "apps:\n  - name: a\n    source: { repoURL: https://git.example.com/a.git, targetRevision: main, path: a }\n    destination: { directory: /tmp/a }\n",
                "mirrors: { maxRepositories: 3, maxSize: 512Mi }\n", "server:\n  tokens: [{ token: { env: T }, role: viewer, projects: ['!x', '*'] }]\n",
                "sinks:\n  - name: s\n    slack: { url: { value: http://x } }\nsubscriptions:\n  - { triggers: [on-sync-failed], sinks: [s] }\n"]:
    write("configuration", snippet)

deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations: { argocd.argoproj.io/sync-wave: \"1\" }\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n"
service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{ port: 80 }]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\ndata: { a: \"1\" }\n"
kustomizations = [
    "resources: [deploy.yaml, ../base]\nnamePrefix: p-\nnamespace: shop\ncommonLabels: { app: web }\nimages: [{ name: nginx, newTag: \"1.28\" }]\n",
    "resources: [deploy.yaml]\npatches:\n  - patch: |-\n      - op: replace\n        path: /spec/replicas\n        value: 3\n    target: { kind: Deployment }\n",
    "resources: [deploy.yaml]\nconfigMapGenerator: [{ name: cfg, literals: [a=1, b=2] }]\nreplicas: [{ name: web, count: 4 }]\n",
    "",
]
for kustomization in kustomizations:
    write("render", "\0".join([kustomization, deploy, "resources: [service.yaml]\n", service]))
write("render", "\0" + deploy + "---\n" + service)
write("render", "\0kind: [unclosed\n")

for payload, kind in [(bodies["github"] | {"provider": "github"}, "dev.tributary.git.push"), ({"app": "shop", "phase": "succeeded"}, "dev.tributary.sync.succeeded")]:
    headers = f"ce_specversion=1.0\nce_id=1\nce_source=test\nce_type={kind}\nce_time=2026-12-03T10:00:00Z\ncontent-type=application/json"
    write("cloudevent", headers + "\0" + json.dumps(payload))
    write("cloudevent", headers.replace("1.0", "0.3") + "\0{}")
    write("cloudevent", headers.replace("2026-12-03T10:00:00Z", "yesterday") + "\0null")
write("cloudevent", "ce_specversion=1.0\nce_id=\nce_type=x\0")
change = {"provider": "gitlab", "deliveryID": "d", "repository": {"key": "g/a/b", "cloneURLs": []}, "ref": "refs/heads/x", "before": zero, "after": b,
          "created": True, "deleted": False, "forced": False, "receivedAt": "2026-12-03T10:00:00Z"}
write("cloudevent", "ce_specversion=1.0\nce_id=2\nce_source=s\nce_type=dev.tributary.git.push\0" + json.dumps(change))
print("seeds written to", root / "corpus", file=sys.stderr)
