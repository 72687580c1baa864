"""Helpers for the demo and benchmark scripts: Tributary processes, git repositories, signed
webhooks and a sync-event reader. Standard library only."""
import hashlib
import hmac
import json
import os
import queue
import signal
import subprocess
import threading
import time
import urllib.request
import uuid


class Processes:
    """Child processes, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.children = []

    def start(self, name, args, env=None):
        log = open(os.path.join(self.workdir, f"{name}.log"), "w")
        child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {})})
        child.log_path = log.name
        child.name = name
        self.children.append(child)
        return child

    def wait_for_line(self, child, prefix, timeout=60):
        """The rest of the first output line starting with prefix (e.g. LISTENING=)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(child.log_path) as log:
                for line in log:
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
            if child.poll() is not None:
                raise RuntimeError(f"{child.name} exited: see {child.log_path}")
            time.sleep(0.05)
        raise RuntimeError(f"{child.name} did not print {prefix} within {timeout}s")

    def stop_all(self):
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


class Repository:
    """A bare repository under `served` and a work tree to commit from."""

    def __init__(self, served, workdir, name):
        self.bare = os.path.join(served, f"{name}.git")
        self.work = os.path.join(workdir, f"work-{name}")
        git("init", "-q", "--bare", "-b", "main", self.bare)
        git("init", "-q", "-b", "main", self.work)
        git("remote", "add", "origin", self.bare, cwd=self.work)

    def commit(self, files, message="change"):
        """Writes files (path → text), commits and pushes; returns (before, after)."""
        before = git("rev-parse", "HEAD", cwd=self.work) if os.path.exists(os.path.join(self.work, ".git", "refs", "heads", "main")) else "0" * 40
        for path, text in files.items():
            full = os.path.join(self.work, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        git("add", "-A", cwd=self.work)
        git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return before, git("rev-parse", "HEAD", cwd=self.work)


def send_push(listener, secret, clone_url, before, after, delivery=None, modified=None):
    """A signed GitHub push webhook; returns (status, delivery id). `modified`: the paths the pushed
    commit changed, listed in `commits` as GitHub does (without it the list is empty)."""
    delivery = delivery or str(uuid.uuid4())
    commits = [{"id": after, "distinct": True, "added": [], "modified": list(modified), "removed": []}] if modified else []
    body = json.dumps({"ref": "refs/heads/main", "before": before, "after": after, "created": before == "0" * 40,
                       "deleted": False, "forced": False, "repository": {"clone_url": clone_url},
                       "pusher": {"name": "bench"}, "commits": commits}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{listener}/hooks/github", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, delivery


class SyncEvents:
    """Reads <prefix>.sync (or another of `tributary tail`'s topics) in the background; events with
    arrival times."""

    def __init__(self, processes, binary, bootstrap, topic="sync"):
        self.queue = queue.Queue()
        self.child = subprocess.Popen([binary, "tail", topic, "--brokers", bootstrap, "--log-level", "error"],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        processes.children.append(self.child)
        self.child.name = "tail"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.child.stdout:
            try:
                self.queue.put((time.monotonic(), json.loads(line)["data"]))
            except (ValueError, KeyError):
                continue

    def next(self, timeout):
        """(arrival, sync event data) or None."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except Exception as error:  # noqa: BLE001 — any failure means "not there yet"
        return None, str(error)


def partitions(port):
    """Partitions a worker reports on /readyz, or None before it has joined."""
    status, text = get(f"http://127.0.0.1:{port}/readyz")
    if status != 200 or not text.startswith("ready: partitions"):
        return None
    return [int(p) for p in text[len("ready: partitions"):].strip().split(",") if p.strip()]


def synced_revision(target):
    try:
        with open(os.path.join(target, ".tributary-inventory")) as f:
            return json.load(f).get("revision")
    except (OSError, ValueError):
        return None


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
