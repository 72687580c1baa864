import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A Kubernetes API client for what a sync needs: discovery, get, list, server-side apply
/// (optionally dry-run) and delete. JSON over HTTPS through one process-wide HTTP client, with
/// this cluster's TLS settings on each request.
public final class KubernetesClient: Sendable {
    /// Never shut down: it lives as long as the process. Unlike `HTTPClient.shared`, a refused
    /// connection fails the request at once instead of being retried until its deadline, so an
    /// unreachable API server is a prompt failure the app's retry backoff then paces.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(5)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public let connection: KubernetesConnection
    private let tls: TLSConfiguration?
    private let userAgent: String
    private let timeout: TimeAmount
    /// Discovery by group/version, then kind; a group/version is fetched again when a kind is
    /// missing from it (a CRD applied since).
    private let discovery = Mutex<[String: [String: APIResource]]>([:])
    /// An exec plugin's credential, and the run that is fetching one: every request waiting for a
    /// token waits for the same run.
    private let exec = Mutex<(credential: ExecCredentialPlugin.Credential?, running: Task<ExecCredentialPlugin.Credential, any Error>?)>((nil, nil))

    /// - Throws: `KubernetesError.credentials` when a certificate or key cannot be parsed.
    public init(connection: KubernetesConnection, userAgent: String = "tributary", timeout: Duration = .seconds(30)) throws {
        self.connection = connection
        self.userAgent = userAgent
        self.timeout = .milliseconds(Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        guard connection.server.hasPrefix("https://") else {
            self.tls = nil
            return
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let authority = connection.certificateAuthority {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(authority))
            }
            if let client = connection.clientCertificate {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(client.certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: client.key, format: .pem))
            }
        } catch {
            throw KubernetesError(code: .credentials, message: "a certificate or key for \(connection.server) is not valid PEM")
        }
        if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
        self.tls = tls
    }

    // MARK: Discovery

    /// How the API serves `kind` at `apiVersion`.
    ///
    /// - Throws: `KubernetesError.unknownKind` when the server does not serve it, even after
    ///   discovery is fetched again.
    public func resource(apiVersion: String, kind: String) async throws -> APIResource {
        if let known = self.discovery.withLock({ $0[apiVersion]?[kind] }) { return known }
        let resources = try await self.discover(apiVersion)
        guard let resource = resources[kind] else {
            throw KubernetesError(code: .unknownKind, message: "the server does not serve kind \(kind) in \(apiVersion)")
        }
        return resource
    }

    /// Fetches one group/version's resource list again.
    @discardableResult
    public func discover(_ groupVersion: String) async throws -> [String: APIResource] {
        let path = groupVersion.contains("/") ? "/apis/\(groupVersion)" : "/api/\(groupVersion)"
        let document: JSONValue
        do {
            document = try await self.send(.GET, path)
        } catch let error as KubernetesError where error.code == .notFound {
            throw KubernetesError(code: .unknownKind, status: 404, message: "the server does not serve \(groupVersion)")
        }
        var resources: [String: APIResource] = [:]
        for entry in document["resources"]?.array ?? [] {
            guard let name = entry["name"]?.string, !name.contains("/"), let kind = entry["kind"]?.string else { continue }
            resources[kind] = APIResource(groupVersion: groupVersion, kind: kind, name: name, namespaced: entry["namespaced"]?.bool ?? false)
        }
        self.discovery.withLock { $0[groupVersion] = resources }
        return resources
    }

    /// The server's `gitVersion` (`v1.31.0`) and every group/version it serves (`v1`, `apps/v1`, …),
    /// sorted: what Helm's `--kube-version` and `--api-versions` take.
    public func versions() async throws -> (gitVersion: String, apiVersions: [String]) {
        let version = try await self.send(.GET, "/version")
        var apiVersions = try await self.send(.GET, "/api")["versions"]?.array?.compactMap(\.string) ?? []
        for group in try await self.send(.GET, "/apis")["groups"]?.array ?? [] {
            apiVersions += group["versions"]?.array?.compactMap { $0["groupVersion"]?.string } ?? []
        }
        return (version["gitVersion"]?.string ?? "", apiVersions.sorted())
    }

    // MARK: Verbs

    /// The live object, nil when it does not exist.
    public func get(_ reference: ObjectReference) async throws -> JSONValue? {
        let resource = try await self.resource(apiVersion: reference.apiVersion, kind: reference.kind)
        do {
            return try await self.send(.GET, resource.path(namespace: reference.namespace, name: reference.name))
        } catch let error as KubernetesError where error.code == .notFound {
            return nil
        }
    }

    /// Objects of a kind, in a namespace or everywhere, optionally by label selector.
    public func list(apiVersion: String, kind: String, namespace: String? = nil, labelSelector: String? = nil) async throws -> [JSONValue] {
        let resource = try await self.resource(apiVersion: apiVersion, kind: kind)
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        let list = try await self.send(.GET, resource.path(namespace: namespace), query: query)
        return (list["items"]?.array ?? []).map { item in
            // List items omit apiVersion and kind.
            var item = item
            item["apiVersion"] = .string(apiVersion)
            item["kind"] = .string(kind)
            return item
        }
    }

    /// Server-side apply: `PATCH` with `application/apply-patch+yaml` (JSON is YAML).
    ///
    /// - Parameters:
    ///   - force: take fields another manager owns instead of failing with a conflict.
    ///   - dryRun: `dryRun=All`: validation, admission and conflicts, nothing persisted.
    /// - Returns: the object as the server holds it afterwards (or would).
    public func apply(_ object: JSONValue, fieldManager: String, force: Bool, dryRun: Bool = false) async throws -> JSONValue {
        guard let reference = ObjectReference(of: object) else {
            throw KubernetesError(code: .invalid, message: "an object needs apiVersion, kind and metadata.name")
        }
        let resource = try await self.resource(apiVersion: reference.apiVersion, kind: reference.kind)
        var query = [("fieldManager", fieldManager)]
        if force { query.append(("force", "true")) }
        if dryRun { query.append(("dryRun", "All")) }
        return try await self.send(
            .PATCH, resource.path(namespace: reference.namespace, name: reference.name), query: query,
            body: object.encoded(), contentType: "application/apply-patch+yaml"
        )
    }

    /// Deletes an object; false when it was already gone.
    ///
    /// - Parameters:
    ///   - propagation: `Foreground`, `Background` or `Orphan`.
    ///   - uid: delete only this incarnation of the object (a precondition): one deleted and
    ///     created again since it was read is left alone (409).
    public func delete(_ reference: ObjectReference, propagation: String, uid: String? = nil, dryRun: Bool = false) async throws -> Bool {
        let resource = try await self.resource(apiVersion: reference.apiVersion, kind: reference.kind)
        var options: JSONValue = .object(["kind": .string("DeleteOptions"), "apiVersion": .string("v1"), "propagationPolicy": .string(propagation)])
        if let uid { options["preconditions"] = .object(["uid": .string(uid)]) }
        do {
            _ = try await self.send(
                .DELETE, resource.path(namespace: reference.namespace, name: reference.name),
                query: dryRun ? [("dryRun", "All")] : [], body: options.encoded(), contentType: "application/json"
            )
            return true
        } catch let error as KubernetesError where error.code == .notFound {
            return false
        }
    }

    // MARK: Transport

    /// One request; a 2xx JSON body comes back parsed, anything else as `KubernetesError`.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil, contentType: String? = nil) async throws -> JSONValue {
        let token = try await self.token()
        do {
            return try await self.attempt(method, path, query: query, body: body, contentType: contentType, token: token)
        } catch let error as KubernetesError where error.code == .unauthorized {
            // An exec plugin's token may have been revoked before its stated expiry: drop it (unless
            // another request already has) and ask the plugin once more.
            guard case .exec = self.connection.token else { throw error }
            self.exec.withLock { state in
                if state.credential?.token == token { state.credential = nil }
            }
            return try await self.attempt(method, path, query: query, body: body, contentType: contentType, token: try await self.token())
        }
    }

    private func attempt(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: [UInt8]?, contentType: String?, token: String?) async throws -> JSONValue {
        var components = URLComponents()
        components.queryItems = query.isEmpty ? nil : query.map { URLQueryItem(name: $0.0, value: $0.1) }
        let encodedQuery = components.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") } ?? ""
        var request = HTTPClientRequest(url: self.connection.server + path + encodedQuery)
        request.method = method
        request.tlsConfiguration = self.tls
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: self.userAgent)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await Self.http.execute(request, timeout: self.timeout)
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw KubernetesError(code: .unreachable, message: "\(self.connection.server) did not answer \(method) \(path): \(Self.describe(error))")
        }
        let document = try? JSONValue(json: bytes.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw KubernetesError(status: Int(response.status.code), body: document)
        }
        guard let document else {
            throw KubernetesError(code: .unreachable, status: Int(response.status.code), message: "\(method) \(path): the answer is not JSON")
        }
        return document
    }

    private func token() async throws -> String? {
        switch self.connection.token {
        case nil: return nil
        case .fixed(let token): return token
        case .provider(let provide):
            do {
                return try provide()
            } catch {
                throw KubernetesError(code: .credentials, message: "the token for \(self.connection.server) cannot be read: \(error)")
            }
        case .file(let path):
            var text = String(decoding: try KubernetesConnection.read(path, what: "token file"), as: UTF8.self)
            while text.last?.isWhitespace == true { text.removeLast() }
            return text
        case .exec(let plugin):
            enum Next {
                case token(String)
                case wait(Task<ExecCredentialPlugin.Credential, any Error>)
            }
            let next = self.exec.withLock { state -> Next in
                // A token is used until a minute before it expires, as client-go does.
                if let cached = state.credential, cached.expiresAt.map({ $0.timeIntervalSinceNow > 60 }) ?? true { return .token(cached.token) }
                if let running = state.running { return .wait(running) }
                let run = Task { try await plugin.run() }
                state.running = run
                return .wait(run)
            }
            switch next {
            case .token(let token):
                return token
            case .wait(let run):
                let result = await run.result
                self.exec.withLock { state in
                    if state.running == run {
                        state.running = nil
                        if case .success(let credential) = result { state.credential = credential }
                    }
                }
                return try result.get().token
            }
        }
    }

    /// What went wrong on the wire, without the request (whose headers hold the token).
    static func describe(_ error: any Error) -> String {
        // The server URL holds no secret (unlike a webhook URL), so the client's description may stay.
        if let error = error as? HTTPClientError { return "\(error)" }
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        if let error = error as? BoringSSLError { return "TLS: \(error)" }
        return "\(type(of: error)): \(error)"
    }
}
