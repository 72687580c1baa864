#!/usr/bin/env python3
"""Writes a GitHub-shaped push of about 7 KB (WORKDIR/body.json) and its X-Hub-Signature-256 for
SECRET (WORKDIR/signature), for load tests with wrk and scripts/lib/post.lua.

    scripts/lib/signed-push.py WORKDIR SECRET"""
import hashlib, hmac, json, sys
work, secret = sys.argv[1], sys.argv[2]
commits = [{"id": "%040x" % i, "message": "Update manifests for service %d" % i,
            "added": ["apps/svc-%d/new.yaml" % i], "modified": ["apps/svc-%d/deploy.yaml" % i, "apps/svc-%d/svc.yaml" % i],
            "removed": [], "author": {"name": "Dev %d" % i, "email": "dev%d@example.com" % i}} for i in range(24)]
payload = {"ref": "refs/heads/main", "before": "1" * 40, "after": "2" * 40, "created": False, "deleted": False, "forced": False,
           "repository": {"full_name": "acme/infra", "clone_url": "https://github.com/acme/infra.git",
                          "ssh_url": "git@github.com:acme/infra.git", "html_url": "https://github.com/acme/infra"},
           "pusher": {"name": "octocat", "email": "octocat@example.com"}, "commits": commits}
body = json.dumps(payload).encode()
open(work + "/body.json", "wb").write(body)
open(work + "/signature", "w").write("sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
print("payload bytes:", len(body), file=sys.stderr)
