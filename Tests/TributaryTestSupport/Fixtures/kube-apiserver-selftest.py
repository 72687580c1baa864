#!/usr/bin/env python3
"""Protocol checks for the stand-in API server (kube-apiserver.py) that kubectl does not exercise.

usage: python3 kube-apiserver-selftest.py [-v]
Starts the stand-in over plain HTTP with a bearer token (and once over TLS with a client CA), talks to it
with urllib, and stops it afterwards.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import ssl

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "kube-apiserver.py")
TOKEN = "selftest-token"


def start(*args):
    process = subprocess.Popen([sys.executable, SERVER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("PORT="):
        process.kill()
        raise RuntimeError(f"stand-in did not start: {line!r} {process.stderr.read()}")
    return process, int(line.strip().split("=")[1])


def deployment(name="web", replicas=2, image="nginx:1.27", labels=None):
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "web", "image": image}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def fields_of(obj, manager, operation=None, subresource=None):
    for entry in obj["metadata"].get("managedFields", []):
        if entry["manager"] == manager and operation in (None, entry["operation"]) \
                and (subresource is None or entry.get("subresource") == subresource):
            return entry["fieldsV1"]
    return None


class StandIn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process, port = start("--token", TOKEN, "--crd-establish-seconds", "0.3")
        cls.base = f"http://127.0.0.1:{port}"

    @classmethod
    def tearDownClass(cls):
        cls.process.terminate()
        cls.process.wait(timeout=5)
        errors = cls.process.stderr.read()
        cls.process.stderr.close()
        cls.process.stdout.close()
        if errors:
            raise AssertionError(f"stand-in wrote to stderr:\n{errors}")

    def call(self, method, path, body=None, content_type="application/json", token=TOKEN, agent="selftest/1.0"):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        request.add_header("User-Agent", agent)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(self, method, path, body=None, content_type="application/json", **kwargs):
        status, answer = self.call(method, path, body, content_type, **kwargs)
        self.assertLess(status, 300, answer)
        return answer

    def apply(self, path, body, manager, force=False, dry_run=False):
        query = f"?fieldManager={manager}" + ("&force=true" if force else "") + ("&dryRun=All" if dry_run else "")
        return self.call("PATCH", path + query, body, "application/apply-patch+yaml")

    def namespace(self, name):
        status, answer = self.apply(f"/api/v1/namespaces/{name}", {"apiVersion": "v1", "kind": "Namespace",
                                                                     "metadata": {"name": name}}, "selftest")
        self.assertIn(status, (200, 201), answer)
        return f"/apis/apps/v1/namespaces/{name}/deployments"

    # --- server-side apply ---

    def test_apply_removes_fields_the_manager_stops_applying(self):
        deployments = self.namespace("ssa-remove")
        body = deployment(labels={"app": "web", "tier": "front"})
        status, created = self.apply(f"{deployments}/web", body, "tributary")
        self.assertEqual(status, 201, created)
        self.assertEqual(created["spec"]["replicas"], 2)
        body = deployment(replicas=None, labels={"app": "web"})
        status, updated = self.apply(f"{deployments}/web", body, "tributary")
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["metadata"]["labels"], {"app": "web"})
        self.assertEqual(updated["spec"]["replicas"], 1, "a removed field with a default is defaulted again")
        self.assertNotIn("f:replicas", fields_of(updated, "tributary", "Apply")["f:spec"])

    def test_apply_removes_list_items_the_manager_stops_applying(self):
        deployments = self.namespace("ssa-items")
        body = deployment()
        body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        self.apply(f"{deployments}/web", body, "tributary")
        sidecar = deployment()
        sidecar["spec"]["template"]["spec"]["containers"] = [{"name": "sidecar", "image": "busybox:1"}]
        status, both = self.apply(f"{deployments}/web", sidecar, "mesh")
        self.assertEqual([c["name"] for c in both["spec"]["template"]["spec"]["containers"]], ["web", "sidecar"])
        body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
        status, answer = self.apply(f"{deployments}/web", body, "tributary")
        self.assertEqual(status, 200, answer)
        containers = answer["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in containers], ["web", "sidecar"], "the other manager's item stays")
        self.assertEqual(containers[0]["env"], [{"name": "A", "value": "1"}])

    def test_apply_keeps_a_field_another_manager_also_owns(self):
        deployments = self.namespace("ssa-keep")
        self.apply(f"{deployments}/web", deployment(labels={"app": "web", "team": "a"}), "first")
        status, _ = self.apply(f"{deployments}/web", deployment(labels={"app": "web", "team": "a"}), "second")
        self.assertEqual(status, 200)
        status, answer = self.apply(f"{deployments}/web", deployment(labels={"app": "web"}), "first")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["metadata"]["labels"].get("team"), "a", "second still owns the label")

    def test_equal_values_are_shared_and_then_conflict(self):
        deployments = self.namespace("ssa-shared")
        self.assertEqual(self.apply(f"{deployments}/web", deployment(replicas=2), "alpha")[0], 201)
        status, shared = self.apply(f"{deployments}/web", deployment(replicas=2), "beta")
        self.assertEqual(status, 200, shared)
        self.assertIn("f:replicas", fields_of(shared, "alpha", "Apply")["f:spec"])
        self.assertIn("f:replicas", fields_of(shared, "beta", "Apply")["f:spec"])
        status, error = self.apply(f"{deployments}/web", deployment(replicas=3), "beta")
        self.assertEqual(status, 409, error)
        self.assertEqual(error["reason"], "Conflict")
        self.assertEqual(error["message"], 'Apply failed with 1 conflict: conflict with "alpha" using apps/v1: .spec.replicas')
        self.assertEqual(error["details"]["causes"], [{"reason": "FieldManagerConflict", "message": 'conflict with "alpha" using apps/v1',
                                                       "field": ".spec.replicas"}])
        status, forced = self.apply(f"{deployments}/web", deployment(replicas=3), "beta", force=True)
        self.assertEqual(status, 200, forced)
        self.assertEqual(forced["spec"]["replicas"], 3)
        self.assertNotIn("f:replicas", fields_of(forced, "alpha", "Apply")["f:spec"])

    def test_apply_requires_a_field_manager(self):
        deployments = self.namespace("ssa-manager")
        status, error = self.call("PATCH", f"{deployments}/web", deployment(), "application/apply-patch+yaml")
        self.assertEqual((status, error["reason"]), (422, "Invalid"), error)
        self.assertEqual(error["message"], 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')

    def test_update_owns_what_it_changes_and_defaults_the_manager_from_the_user_agent(self):
        deployments = self.namespace("ssa-update")
        self.apply(f"{deployments}/web", deployment(), "tributary")
        patched = self.ok("PATCH", f"{deployments}/web", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}},
                          "application/strategic-merge-patch+json", agent="kubectl-edit/v1.32.4 (linux/amd64)")
        owned = fields_of(patched, "kubectl-edit", "Update")
        self.assertEqual(owned, {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}}})
        self.assertEqual(patched["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent")
        self.assertEqual(len(patched["spec"]["template"]["spec"]["containers"]), 1, "merged by name, not appended")

    # --- dry run ---

    def test_dry_run_persists_nothing(self):
        deployments = self.namespace("dry-run")
        status, created = self.call("POST", f"{deployments}?dryRun=All", deployment())
        self.assertEqual(status, 201, created)
        self.assertEqual(created["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%")
        self.assertEqual(self.call("GET", f"{deployments}/web")[0], 404)
        real = self.ok("POST", deployments, deployment())
        revision = real["metadata"]["resourceVersion"]
        dry = self.ok("PATCH", f"{deployments}/web?dryRun=All", {"spec": {"replicas": 9}}, "application/merge-patch+json")
        self.assertEqual(dry["spec"]["replicas"], 9)
        self.assertEqual(dry["metadata"]["generation"], 2)
        status, error = self.apply(f"{deployments}/web", deployment(replicas=7), "other", dry_run=True)
        self.assertEqual(status, 409, "a dry run still checks conflicts with the creator, who owns .spec.replicas")
        status, forced = self.apply(f"{deployments}/web", deployment(replicas=7), "other", force=True, dry_run=True)
        self.assertEqual((status, forced["spec"]["replicas"]), (200, 7))
        self.ok("DELETE", f"{deployments}/web?dryRun=All")
        live = self.ok("GET", f"{deployments}/web")
        self.assertEqual((live["spec"]["replicas"], live["metadata"]["resourceVersion"], live["metadata"]["generation"]),
                         (2, revision, 1))
        self.assertIsNone(fields_of(live, "other"))

    # --- deletion ---

    def test_foreground_deletion_shows_the_finalizer_then_removes_object_and_dependents(self):
        deployments = self.namespace("foreground")
        owner = self.ok("POST", deployments, deployment())
        reference = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": owner["metadata"]["uid"]}
        self.ok("POST", "/api/v1/namespaces/foreground/configmaps",
                {"metadata": {"name": "child", "ownerReferences": [reference]}, "data": {"a": "b"}})
        status, deleting = self.call("DELETE", f"{deployments}/web", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                                      "propagationPolicy": "Foreground"})
        self.assertEqual(status, 200, deleting)
        self.assertIn("deletionTimestamp", deleting["metadata"])
        self.assertIn("foregroundDeletion", deleting["metadata"]["finalizers"])
        deadline = time.time() + 3
        while self.call("GET", f"{deployments}/web")[0] != 404:
            self.assertLess(time.time(), deadline, "foreground deletion never finished")
            time.sleep(0.02)
        self.assertEqual(self.call("GET", "/api/v1/namespaces/foreground/configmaps/child")[0], 404)

    def test_background_deletion_answers_a_success_status(self):
        self.namespace("background")
        self.ok("POST", "/api/v1/namespaces/background/configmaps", {"metadata": {"name": "gone"}})
        answer = self.ok("DELETE", "/api/v1/namespaces/background/configmaps/gone?propagationPolicy=Background")
        self.assertEqual((answer["kind"], answer["status"], answer["details"]["name"]), ("Status", "Success", "gone"))
        status, error = self.call("GET", "/api/v1/namespaces/background/configmaps/gone")
        self.assertEqual((status, error["message"]), (404, 'configmaps "gone" not found'))

    # --- list ---

    def test_label_selectors(self):
        self.namespace("selectors")
        for name, labels in (("a", {"env": "prod", "tier": "web"}), ("b", {"env": "dev", "tier": "web"}),
                             ("c", {"env": "test"}), ("d", {})):
            self.ok("POST", "/api/v1/namespaces/selectors/configmaps", {"metadata": {"name": name, "labels": labels}})

        def names(selector):
            answer = self.ok("GET", "/api/v1/namespaces/selectors/configmaps?labelSelector=" + urllib.request.quote(selector))
            self.assertEqual(answer["kind"], "ConfigMapList")
            self.assertTrue(answer["metadata"]["resourceVersion"])
            return [item["metadata"]["name"] for item in answer["items"]]
        self.assertEqual(names("env=prod"), ["a"])
        self.assertEqual(names("env==dev"), ["b"])
        self.assertEqual(names("env!=prod"), ["b", "c", "d"])
        self.assertEqual(names("env in (prod, test)"), ["a", "c"])
        self.assertEqual(names("env notin (prod,test)"), ["b", "d"])
        self.assertEqual(names("tier"), ["a", "b"])
        self.assertEqual(names("!tier"), ["c", "d"])
        self.assertEqual(names("tier=web,env in (dev)"), ["b"])
        answer = self.ok("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3Dc")
        self.assertEqual([i["metadata"]["name"] for i in answer["items"]], ["c"])

    # --- CRDs ---

    def test_crd_becomes_established_and_served(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.example.com"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
                        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
        created = self.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        conditions = {c["type"]: c["status"] for c in created.get("status", {}).get("conditions", [])}
        self.assertNotEqual(conditions.get("Established"), "True")
        self.assertEqual(self.call("GET", "/apis/example.com/v1")[0], 404)
        deadline = time.time() + 3
        while True:
            crd_now = self.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
            conditions = {c["type"]: c["status"] for c in crd_now["status"]["conditions"]}
            if conditions.get("Established") == "True":
                break
            self.assertLess(time.time(), deadline, "CRD never became Established")
            time.sleep(0.05)
        self.assertEqual(conditions["NamesAccepted"], "True")
        groups = self.ok("GET", "/apis")["groups"]
        self.assertIn("example.com", [g["name"] for g in groups])
        resources = self.ok("GET", "/apis/example.com/v1")["resources"]
        widget = next(r for r in resources if r["name"] == "widgets")
        self.assertEqual((widget["kind"], widget["namespaced"], widget["shortNames"]), ("Widget", True, ["wg"]))
        self.assertIn("widgets/status", [r["name"] for r in resources])
        self.namespace("crd")
        body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1},
                "status": {"ignored": True}}
        widget = self.ok("POST", "/apis/example.com/v1/namespaces/crd/widgets", body)
        self.assertNotIn("status", widget, "status is a subresource")
        status, _ = self.call("PATCH", "/apis/example.com/v1/namespaces/crd/widgets/w", {"spec": {"size": 2}},
                              "application/strategic-merge-patch+json")
        self.assertEqual(status, 415, "custom resources take no strategic merge patch")
        self.ok("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
        self.assertEqual(self.call("GET", "/apis/example.com/v1/namespaces/crd/widgets/w")[0], 404)
        self.assertNotIn("example.com", [g["name"] for g in self.ok("GET", "/apis")["groups"]])

    # --- namespaces ---

    def test_namespaced_object_in_a_missing_namespace_is_not_found(self):
        for status, error in (self.call("POST", "/api/v1/namespaces/nowhere/configmaps", {"metadata": {"name": "x"}}),
                              self.apply("/apis/apps/v1/namespaces/nowhere/deployments/web", deployment(), "tributary")):
            self.assertEqual(status, 404, error)
            self.assertEqual(error["message"], 'namespaces "nowhere" not found')
            self.assertEqual(error["details"], {"name": "nowhere", "kind": "namespaces"})

    def test_deleting_a_namespace_deletes_its_contents(self):
        deployments = self.namespace("doomed")
        self.ok("POST", deployments, deployment())
        terminating = self.ok("DELETE", "/api/v1/namespaces/doomed")
        self.assertEqual(terminating["status"]["phase"], "Terminating")
        deadline = time.time() + 3
        while self.call("GET", "/api/v1/namespaces/doomed")[0] != 404:
            self.assertLess(time.time(), deadline)
            time.sleep(0.02)
        self.assertEqual(self.ok("GET", "/apis/apps/v1/deployments")["items"],
                         [d for d in self.ok("GET", "/apis/apps/v1/deployments")["items"] if d["metadata"]["namespace"] != "doomed"])

    # --- subresources ---

    def test_scale_moves_ownership_of_replicas(self):
        deployments = self.namespace("scale")
        self.apply(f"{deployments}/web", deployment(replicas=2), "tributary")
        scale = self.ok("GET", f"{deployments}/web/scale")
        self.assertEqual((scale["kind"], scale["apiVersion"], scale["spec"]["replicas"], scale["status"]["selector"]),
                         ("Scale", "autoscaling/v1", 2, "app=web"))
        scaled = self.ok("PATCH", f"{deployments}/web/scale", {"spec": {"replicas": 5}}, "application/merge-patch+json",
                         agent="kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07")
        self.assertEqual((scaled["kind"], scaled["spec"]["replicas"]), ("Scale", 5))
        live = self.ok("GET", f"{deployments}/web")
        self.assertEqual(fields_of(live, "kubectl", "Update", "scale"), {"f:spec": {"f:replicas": {}}})
        self.assertNotIn("f:replicas", fields_of(live, "tributary", "Apply")["f:spec"])
        self.assertEqual(live["metadata"]["generation"], 2)
        status, error = self.apply(f"{deployments}/web", deployment(replicas=2), "tributary")
        self.assertEqual(status, 409)
        self.assertIn('conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas', error["message"])

    def test_status_subresource_changes_only_status_and_not_generation(self):
        deployments = self.namespace("status")
        created = self.ok("POST", deployments, dict(deployment(), status={"replicas": 99}))
        self.assertEqual(created["status"], {}, "status is reset on create")
        live = self.ok("GET", f"{deployments}/web")
        live["status"] = {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2}
        live["spec"]["replicas"] = 7
        updated = self.ok("PUT", f"{deployments}/web/status", live, agent="controller/1")
        self.assertEqual((updated["status"]["readyReplicas"], updated["spec"]["replicas"], updated["metadata"]["generation"]),
                         (2, 2, 1))
        self.assertEqual(fields_of(updated, "controller", "Update", "status"),
                         {"f:status": {"f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}}})
        main = self.ok("PATCH", f"{deployments}/web", {"status": {"readyReplicas": 0}, "spec": {"replicas": 3}},
                       "application/merge-patch+json")
        self.assertEqual((main["status"]["readyReplicas"], main["metadata"]["generation"]), (2, 2))
        self.assertGreater(int(main["metadata"]["resourceVersion"]), int(updated["metadata"]["resourceVersion"]))

    # --- errors ---

    def test_update_with_a_stale_resource_version_conflicts(self):
        deployments = self.namespace("stale")
        first = self.ok("POST", deployments, deployment())
        self.ok("PATCH", f"{deployments}/web", {"spec": {"replicas": 3}}, "application/merge-patch+json")
        status, error = self.call("PUT", f"{deployments}/web", first)
        self.assertEqual(status, 409)
        self.assertEqual(error["message"], 'Operation cannot be fulfilled on deployments.apps "web": the object has been '
                                           'modified; please apply your changes to the latest version and try again')
        status, error = self.call("POST", deployments, deployment())
        self.assertEqual((status, error["reason"], error["details"]),
                         (409, "AlreadyExists", {"name": "web", "group": "apps", "kind": "deployments"}))

    def test_validation_errors_use_the_real_shape(self):
        deployments = self.namespace("invalid")
        body = deployment()
        del body["spec"]["selector"]
        status, error = self.call("POST", deployments, body)
        self.assertEqual((status, error["reason"]), (422, "Invalid"))
        self.assertEqual(error["message"], 'Deployment.apps "web" is invalid: spec.selector: Required value')
        self.assertEqual(error["details"], {"name": "web", "group": "apps", "kind": "Deployment", "causes": [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}]})
        status, error = self.call("POST", deployments, deployment(name="Web"))
        self.assertEqual(status, 422)
        self.assertTrue(error["message"].startswith('Deployment.apps "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain'), error)
        status, error = self.call("GET", "/apis/apps/v1/namespaces/invalid/gizmos")
        self.assertEqual((status, error["message"]), (404, "the server could not find the requested resource"))

    def test_authentication_authorization_and_admission(self):
        deployments = self.namespace("guarded")
        status, error = self.call("GET", "/api/v1/namespaces", token="wrong")
        self.assertEqual((status, error), (401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                                 "message": "Unauthorized", "reason": "Unauthorized", "code": 401}))
        self.ok("POST", deployments, deployment())
        self.ok("POST", "/_standin/forbid", {"verb": "patch", "resource": "deployments", "namespace": "guarded"}, token=None)
        try:
            status, error = self.apply(f"{deployments}/web", deployment(), "tributary")
            self.assertEqual(status, 403)
            self.assertEqual(error["message"], 'deployments.apps "web" is forbidden: User "system:serviceaccount:tributary:tributary" '
                                               'cannot patch resource "deployments" in API group "apps" in the namespace "guarded"')
        finally:
            self.ok("DELETE", "/_standin/forbid", token=None)
        self.ok("POST", "/_standin/deny", {"kind": "ConfigMap", "name": "bad", "message": "bad things are not allowed"}, token=None)
        try:
            for query in ("", "?dryRun=All"):
                status, error = self.call("POST", "/api/v1/namespaces/guarded/configmaps" + query, {"metadata": {"name": "bad"}})
                self.assertEqual(status, 400)
                self.assertEqual(error["message"], 'admission webhook "standin.tributary.dev" denied the request: bad things are not allowed')
            self.ok("POST", "/api/v1/namespaces/guarded/configmaps", {"metadata": {"name": "good"}})
        finally:
            self.ok("DELETE", "/_standin/deny", token=None)
        log = self.ok("GET", "/_standin/requests", token=None)
        dry = [r for r in log if r["path"] == "/api/v1/namespaces/guarded/configmaps" and r["dryRun"]]
        self.assertEqual([(r["method"], r["status"]) for r in dry], [("POST", 400)])
        self.assertIn({"method": "PATCH", "fieldManager": "tributary", "status": 403},
                      [{k: r[k] for k in ("method", "fieldManager", "status")} for r in log])

    def test_patch_types(self):
        self.namespace("patches")
        path = "/api/v1/namespaces/patches/services"
        svc = self.ok("POST", path, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}]}})
        self.assertEqual((svc["spec"]["type"], svc["spec"]["ports"][0]["targetPort"], svc["spec"]["clusterIP"][:6]),
                         ("ClusterIP", 80, "10.96."))
        smp = self.ok("PATCH", f"{path}/web", {"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}],
                                                        "ports": [{"port": 443, "name": "https"}]}},
                      "application/strategic-merge-patch+json")
        self.assertEqual([p["port"] for p in smp["spec"]["ports"]], [443, 80])
        smp = self.ok("PATCH", f"{path}/web", {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}},
                      "application/strategic-merge-patch+json")
        self.assertEqual([p["port"] for p in smp["spec"]["ports"]], [80])
        patched = self.ok("PATCH", f"{path}/web", [{"op": "test", "path": "/spec/ports/0/port", "value": 80},
                                                  {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}],
                          "application/json-patch+json")
        self.assertEqual(patched["metadata"]["labels"], {"x": "y"})
        self.assertEqual(patched["spec"]["clusterIP"], svc["spec"]["clusterIP"])
        status, _ = self.call("PATCH", f"{path}/web", [{"op": "test", "path": "/spec/type", "value": "NodePort"}],
                              "application/json-patch+json")
        self.assertEqual(status, 422)


class ClientCertificates(unittest.TestCase):
    """--client-ca: a certificate signed by the CA is a user named by its CN; no credentials is 401."""

    def test_client_certificate_user(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        with tempfile.TemporaryDirectory() as work:
            def openssl(*args):
                subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True)
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", "server.key", "-out", "server.crt")
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                    "-keyout", "ca.key", "-out", "ca.crt")
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=alice", "-keyout", "alice.key", "-out", "alice.csr")
            openssl("x509", "-req", "-in", "alice.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                    "-days", "1", "-out", "alice.crt")
            process, port = start("--tls-cert", f"{work}/server.crt", "--tls-key", f"{work}/server.key",
                                  "--client-ca", f"{work}/ca.crt", "--forbid", "list:secrets", "--kubeconfig-out", f"{work}/kubeconfig")
            try:
                with open(f"{work}/kubeconfig") as file:
                    config = json.load(file)
                self.assertEqual(config["clusters"][0]["cluster"]["server"], f"https://127.0.0.1:{port}")
                anonymous = ssl.create_default_context(cafile=f"{work}/server.crt")
                with self.assertRaises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(f"https://127.0.0.1:{port}/api/v1/namespaces", context=anonymous)
                self.assertEqual(caught.exception.code, 401)
                alice = ssl.create_default_context(cafile=f"{work}/server.crt")
                alice.load_cert_chain(f"{work}/alice.crt", f"{work}/alice.key")
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/v1/namespaces", context=alice) as response:
                    self.assertEqual(json.loads(response.read())["kind"], "NamespaceList")
                with self.assertRaises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(f"https://127.0.0.1:{port}/api/v1/secrets", context=alice)
                error = json.loads(caught.exception.read())
                self.assertEqual(error["message"], 'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" at the cluster scope')
            finally:
                process.terminate()
                self.assertEqual(process.wait(timeout=5), 0, "exits cleanly on SIGTERM")
                process.stdout.close()
                process.stderr.close()


if __name__ == "__main__":
    unittest.main()
