import Foundation

/// The Kubernetes API the cluster-target tests run against: the stand-in
/// (`Fixtures/kube-apiserver.py`) over HTTPS with a bearer token and a CA made here — or a real
/// cluster when `TRIBUTARY_TEST_KUBECONTEXT` names a context of `KUBECONFIG`. The stand-in also
/// has control endpoints (RBAC rules, admission denials, a request log) that a real cluster lacks;
/// tests that need them check `isStandIn`.
public final class KubernetesAPIServer: @unchecked Sendable {
    public let process: ChildProcess?
    /// A kubeconfig file reaching the server (for Tributary's `kubeconfig` auth and for kubectl).
    public let kubeconfig: String
    /// Its context.
    public let context: String
    /// For the stand-in: `https://127.0.0.1:PORT`, its token and its CA certificate.
    public let url: String
    public let token: String
    public let caFile: String

    public var isStandIn: Bool { self.process != nil }

    /// - Parameter rollout: `manual` (Deployments get a status only when a test writes one) or
    ///   `instant` (every rollout completes at once).
    public init(directory: URL, rollout: String = "manual") throws {
        let environment = ProcessInfo.processInfo.environment
        if let context = environment["TRIBUTARY_TEST_KUBECONTEXT"], !context.isEmpty {
            self.process = nil
            self.context = context
            self.kubeconfig = environment["KUBECONFIG"] ?? (NSHomeDirectory() + "/.kube/config")
            self.url = ""
            self.token = ""
            self.caFile = ""
            return
        }
        let name = "kube-\(UUID().uuidString.prefix(6))"
        let key = directory.appendingPathComponent("\(name)-key.pem").path
        let certificate = directory.appendingPathComponent("\(name)-ca.pem").path
        try run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        self.caFile = certificate
        self.token = "token-\(UUID().uuidString)"
        self.kubeconfig = directory.appendingPathComponent("\(name).kubeconfig").path
        self.context = "standin"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kube-apiserver.py")
        let output = directory.appendingPathComponent("\(name).out").path
        let process = try ChildProcess(
            ["python3", script.path, "--tls-cert", certificate, "--tls-key", key, "--token", self.token, "--kubeconfig-out", self.kubeconfig, "--rollout", rollout],
            outputPath: output
        )
        self.process = process
        let port = try waitForPort(in: output, process: process, name: "kube-apiserver.py")
        self.url = "https://127.0.0.1:\(port)"
    }

    /// Runs kubectl against the server; throws with its output when it fails.
    @discardableResult
    public func kubectl(_ arguments: [String]) throws -> String {
        try run(["kubectl", "--kubeconfig", self.kubeconfig, "--context", self.context] + arguments)
    }

    /// An object as JSON, nil when it does not exist.
    public func get(_ resource: String, _ name: String, namespace: String? = nil) throws -> [String: Any]? {
        do {
            let text = try self.kubectl(["get", resource, name, "-o", "json"] + (namespace.map { ["-n", $0] } ?? []))
            return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        } catch let error as CommandFailed where error.output.contains("NotFound") || error.output.contains("not found") {
            return nil
        }
    }

    /// Stand-in only: refuses `verb` on `resource` (in `namespace`) with 403 from now on.
    public func forbid(verb: String, resource: String, namespace: String? = nil) throws {
        var rule = ["verb": verb, "resource": resource]
        rule["namespace"] = namespace
        try self.control("POST", "forbid", rule)
    }

    /// Stand-in only: an admission webhook that denies objects of `kind` (named `name`).
    public func deny(kind: String, name: String? = nil, message: String) throws {
        var rule = ["kind": kind, "message": message]
        rule["name"] = name
        try self.control("POST", "deny", rule)
    }

    /// Stand-in only: every API request so far, oldest first.
    public func requests() throws -> [[String: Any]] {
        let text = try self.control("GET", "requests", nil)
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }

    public func clearRequests() throws {
        try self.control("DELETE", "requests", nil)
    }

    @discardableResult
    private func control(_ method: String, _ path: String, _ body: [String: String]?) throws -> String {
        precondition(self.isStandIn, "control endpoints exist on the stand-in only")
        var arguments = ["curl", "-sS", "--fail", "--cacert", self.caFile, "-X", method, "\(self.url)/_standin/\(path)"]
        if let body {
            let data = try JSONSerialization.data(withJSONObject: body)
            arguments += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: data, as: UTF8.self)]
        }
        return try run(arguments)
    }

    deinit {
        self.process?.stop()
    }
}
