import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import TributaryCore

/// The status API (`/api/v1`), answered from the read model, and the dashboard (`/`). Every route
/// but the dashboard page, `/healthz` and `/readyz` needs a bearer token (401 without one); actions need the operator role (403 without);
/// a token sees only its projects' apps (others are 404, as if absent).
public struct StatusServer: Sendable {
    let model: StatusModel
    let access: AccessControl
    let configuration: TributaryConfiguration
    let actions: OperatorActions?

    public init(model: StatusModel, access: AccessControl, configuration: TributaryConfiguration, actions: OperatorActions?) {
        self.model = model
        self.access = access
        self.configuration = configuration
        self.actions = actions
    }

    /// The HTTP application on `host:port`; `onRunning` gets the bound port.
    public func application(host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) -> Void) -> some Service {
        Application(
            router: self.router(),
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "alive\n" }
        // The dashboard holds no data: it asks the API, with the token the user gives it.
        router.get("/") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.cacheControl] = "no-cache"
            headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
            headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("/readyz") { _, _ -> Response in
            let ready = self.model.isLoaded
            return Response(status: ready ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "rebuilding from the topics\n")))
        }
        router.get("/api/v1/openapi.yaml") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
        }
        router.get("/metrics") { request, _ -> Response in
            let principal = try self.authenticate(request)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: self.metrics(visible: principal.sees(project:)))))
        }
        router.get("/api/v1/apps") { request, _ -> Response in
            let principal = try self.authenticate(request)
            let query = request.uri.queryParameters
            let apps = self.model.read {
                $0.apps(
                    project: query.get("project"), cluster: query.get("cluster"), syncStatus: query.get("sync"), health: query.get("health"),
                    visible: principal.sees(project:)
                )
            }
            return try Self.json(AppList(apps: apps))
        }
        router.get("/api/v1/apps/:name") { request, context -> Response in
            let principal = try self.authenticate(request)
            let name = try context.parameters.require("name")
            guard let (status, history) = self.model.read({ state in state.app(named: name).map { ($0, state.history(of: name)) } }), principal.sees(project: status.project) else {
                throw HTTPError(.notFound, message: "no app named \(name)")
            }
            return try Self.json(AppDetail(app: status, history: history))
        }
        router.get("/api/v1/pushes/:deliveryID") { request, context -> Response in
            let principal = try self.authenticate(request)
            let delivery = try context.parameters.require("deliveryID")
            guard var push = self.model.read({ $0.push(delivery) }) else { throw HTTPError(.notFound, message: "no push with delivery id \(delivery) is remembered") }
            let visible = Set(self.model.read { state in state.apps(visible: principal.sees(project:)).map(\.app) })
            push.syncs = push.syncs.filter { visible.contains($0.app) }
            push.notifications = push.notifications.filter { visible.contains($0.app) }
            // A push that touched none of the token's apps is none of its business (repository, pusher).
            guard !push.syncs.isEmpty || !push.notifications.isEmpty else { throw HTTPError(.notFound, message: "no push with delivery id \(delivery) is remembered") }
            return try Self.json(push)
        }
        router.get("/api/v1/events") { request, _ -> Response in
            let principal = try self.authenticate(request)
            let events = self.model.events()
            let model = self.model
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: ": sync events as they arrive\n\n"))
                for await summary in events.cancelOnGracefulShutdown() {
                    guard let project = model.read({ $0.app(named: summary.app)?.project }), principal.sees(project: project) else { continue }
                    let data = String(decoding: try TributaryJSON.encode(summary), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "id: \(summary.id)\nevent: sync\ndata: \(data)\n\n"))
                }
                try await writer.finish(nil)
            })
        }
        router.post("/api/v1/apps/:name/sync") { request, context -> Response in
            let (app, actions, _) = try self.operate(request, context)
            let body = try await Self.decodeBody(request, as: SyncBody.self) ?? SyncBody()
            let id = try await actions.sync(app, revision: body.revision, prune: body.prune ?? false, dryRun: body.dryRun ?? false)
            return try Self.json(SyncAccepted(requestID: id, app: app.name), status: .accepted)
        }
        for (route, suspended) in [("suspend", true), ("resume", false)] {
            router.post("/api/v1/apps/:name/\(route)") { request, context -> Response in
                let (app, actions, principal) = try self.operate(request, context)
                let body = try await Self.decodeBody(request, as: ControlBody.self) ?? ControlBody()
                try await actions.control(AppControl(app: app.name, suspended: suspended, by: principal.name ?? "api", reason: body.reason))
                return try Self.json(ControlAccepted(app: app.name, suspended: suspended), status: .accepted)
            }
        }
        return router
    }

    struct AppList: Codable { var apps: [AppStatus] }
    struct AppDetail: Codable {
        var app: AppStatus
        /// Newest first.
        var history: [SyncSummary]
    }
    struct SyncBody: Codable {
        var revision: String?
        var prune: Bool?
        var dryRun: Bool?
    }
    struct ControlBody: Codable { var reason: String? }
    struct SyncAccepted: Codable {
        var requestID: String
        var app: String
    }
    struct ControlAccepted: Codable {
        var app: String
        var suspended: Bool
    }

    /// 401 with `WWW-Authenticate: Bearer` unless the request's token is known.
    func authenticate(_ request: Request) throws -> Principal {
        guard let principal = self.access.principal(authorization: request.headers[.authorization]) else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: #"Bearer realm="tributary""#], message: "a bearer token is needed")
        }
        return principal
    }

    /// The app an action names, for an operator who sees it.
    private func operate(_ request: Request, _ context: BasicRequestContext) throws -> (AppSettings, OperatorActions, Principal) {
        let principal = try self.authenticate(request)
        let name = try context.parameters.require("name")
        guard let app = self.configuration.app(named: name), principal.sees(project: app.project) else {
            throw HTTPError(.notFound, message: "no app named \(name)")
        }
        guard principal.mayOperate else { throw HTTPError(.forbidden, message: "this token may only read; actions need the operator role") }
        guard let actions = self.actions else { throw HTTPError(.serviceUnavailable, message: "actions need a Kafka producer, which this server has not") }
        return (app, actions, principal)
    }

    static func decodeBody<Body: Decodable>(_ request: Request, as type: Body.Type) async throws -> Body? {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try JSONDecoder().decode(Body.self, from: Data(buffer: buffer))
        } catch {
            throw HTTPError(.badRequest, message: "the body is not the JSON this action takes")
        }
    }

    static func json<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: try TributaryJSON.encode(value))))
    }

    /// `tributary_app_info`: one series per app the token sees, with its project, cluster, sync status and health.
    func metrics(visible: (String) -> Bool) -> String {
        var lines = ["# HELP tributary_app_info Apps the status server knows, with their sync status and health.", "# TYPE tributary_app_info gauge"]
        for status in self.model.read({ $0.apps(visible: visible) }) {
            let labels = [
                ("app", status.app), ("project", status.project), ("cluster", status.cluster ?? ""), ("sync_status", status.syncStatus.rawValue),
                ("health", status.health?.status ?? ""),
            ].map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
            lines.append("tributary_app_info{\(labels)} 1")
        }
        return lines.joined(separator: "\n") + "\n" + self.model.renderLag()
    }

    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
