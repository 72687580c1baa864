import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryServer
import TributaryTestSupport

/// The status API against a broker over TCP, fed by real records on the topics.
@Suite("Status server", .timeLimit(.minutes(3)))
final class StatusServerTests: Sendable {
    let cluster: TestCluster
    let topics: TributaryTopics
    let configuration: TributaryConfiguration
    let producer: KafkaProducer
    let logger = Logger(label: "tributary.tests")
    let readers = Mutex<[Task<Void, any Error>]>([])

    init() async throws {
        self.cluster = try TestCluster()
        self.topics = TributaryTopics(prefix: "status-\(UUID().uuidString.prefix(8).lowercased())")
        for topic in self.topics.all {
            if let embedded = self.cluster.embedded {
                try embedded.createTopic(topic, partitions: 3)
            } else {
                try await KafkaAdministrator(configuration: self.cluster.kafkaConfiguration, logger: self.logger).createTopics([topic], partitions: 3)
            }
        }
        self.configuration = try TributaryConfiguration.parse(yaml: """
            kafka: { topicPrefix: \(self.topics.prefix) }
            server:
              tokens:
                - { name: viewer, token: { value: viewer-token }, role: viewer, projects: [default] }
                - { name: alice, token: { value: operator-token }, role: operator }
            projects: [{ name: shop, sourceRepos: ['*'], destinations: ['**'] }]
            apps:
              - { name: cart, project: shop, source: { repoURL: "https://git.example.com/acme/infra.git", path: cart }, destination: { directory: /srv/cart } }
              - { name: web, source: { repoURL: "https://git.example.com/acme/infra.git", path: web }, destination: { directory: /srv/web } }
            """, file: "server.yaml")
        self.producer = try self.cluster.makeProducer()
        let producer = self.producer
        self.readers.withLock { $0.append(Task { try await producer.run() }) }
    }

    deinit {
        for reader in self.readers.withLock({ $0 }) { reader.cancel() }
    }

    func publish(_ event: SyncEvent, id: String = UUID().uuidString) async throws {
        let cloudEvent = try CloudEvent(id: id, source: "test", type: SyncEvent.eventType(for: event.phase), subject: event.app, payload: event)
        _ = try await self.producer.deliver(cloudEvent.kafkaMessage(topic: self.topics.sync, key: event.app))
    }

    static func event(_ app: String, _ phase: SyncEvent.Phase, revision: String, delivery: String? = nil) -> SyncEvent {
        let now = Date()
        var event = SyncEvent(
            app: app, project: app == "cart" ? "shop" : "default", repository: "git.example.com/acme/infra", ref: "HEAD", revision: revision, phase: phase,
            trigger: delivery == nil ? "interval" : "change", destination: "directory:/srv/\(app)", deliveryID: delivery,
            receivedAt: delivery == nil ? nil : now.addingTimeInterval(-1), startedAt: now, finishedAt: now.addingTimeInterval(0.2)
        )
        if phase == .failed { event.error = .init(file: "cart/bad.yaml", line: 3, message: "invalid YAML") }
        return event
    }

    /// A model filled by its reader, and a server over it; the reader stops with the test.
    func startServer() async throws -> (StatusModel, StatusServer) {
        let model = StatusModel(state: StatusState(apps: self.configuration.apps))
        let reader = model.reader(topics: self.topics, kafka: self.cluster.kafkaConfiguration, logger: self.logger)
        self.readers.withLock { $0.append(Task { try await reader.run() }) }
        // Generous: at the start of a full run every suite starts at once and the broker answers slowly.
        try await waitUntil("the status rebuilt from the topics", timeout: .seconds(90)) { model.isLoaded }
        let actions = OperatorActions(producer: self.producer, topics: self.topics, source: "test/server")
        return (model, StatusServer(model: model, access: try AccessControl(settings: self.configuration.server), configuration: self.configuration, actions: actions))
    }

    static func get(_ client: any TestClientProtocol, _ path: String, token: String? = "operator-token") async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        let response = try await client.execute(uri: path, method: .get, headers: token.map { [.authorization: "Bearer \($0)"] } ?? [:])
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
        return (response.status, json)
    }

    @Test func answersFromTheTopicsAndARestartedServerAnswersTheSame() async throws {
        let change = ChangeEvent(
            provider: "github", deliveryID: "push-1", repository: .init(key: "git.example.com/acme/infra", cloneURLs: []), ref: "refs/heads/main",
            before: String(repeating: "0", count: 40), after: "c3", receivedAt: Date().addingTimeInterval(-1)
        )
        _ = try await self.producer.deliver(try CloudEvent(id: "change-1", source: "test", type: ChangeEvent.eventType, payload: change).kafkaMessage(topic: self.topics.changes, key: change.repository.key))
        try await self.publish(Self.event("cart", .succeeded, revision: "a1"))
        try await self.publish(Self.event("cart", .failed, revision: "b2"))
        try await self.publish(Self.event("web", .succeeded, revision: "c3", delivery: "push-1"), id: "sync-web")
        try await self.publish(Self.event("web", .driftDetected, revision: "c3"))
        try await self.publish(Self.event("web", .healed, revision: "c3"))

        let (_, server) = try await self.startServer()
        let first = Mutex(Data())
        try await Application(router: server.router()).test(.live) { client in
            let apps = try await Self.get(client, "/api/v1/apps")
            #expect(apps.status == .ok)
            let body = try await client.execute(uri: "/api/v1/apps", method: .get, headers: [.authorization: "Bearer operator-token"]).body
            first.withLock { $0 = Data(buffer: body) }
            let list = try #require(apps.json["apps"] as? [[String: Any]])
            #expect(list.map { $0["app"] as? String } == ["cart", "web"])
            #expect(list.map { $0["syncStatus"] as? String } == ["OutOfSync", "Synced"])
            #expect(list.map { $0["revision"] as? String } == ["a1", "c3"])

            let cart = try await Self.get(client, "/api/v1/apps/cart")
            let lastError = try #require((cart.json["app"] as? [String: Any])?["lastError"] as? [String: Any])
            #expect((lastError["error"] as? [String: Any])?["file"] as? String == "cart/bad.yaml")
            #expect((lastError["error"] as? [String: Any])?["line"] as? Int == 3)
            #expect((cart.json["history"] as? [[String: Any]])?.map { $0["phase"] as? String } == ["failed", "succeeded"])

            let outOfSync = try await Self.get(client, "/api/v1/apps?sync=OutOfSync&project=shop")
            #expect((outOfSync.json["apps"] as? [[String: Any]])?.map { $0["app"] as? String } == ["cart"])

            let push = try await Self.get(client, "/api/v1/pushes/push-1")
            #expect(push.json["changeID"] as? String == "change-1")
            let syncs = try #require(push.json["syncs"] as? [[String: Any]])
            #expect(syncs.map { $0["id"] as? String } == ["sync-web"])
            #expect((syncs.first?["pushToAppliedMilliseconds"] as? Double ?? 0) > 0)
            #expect(try await Self.get(client, "/api/v1/pushes/unknown").status == .notFound)

            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer viewer-token"])
            #expect(String(buffer: metrics.body).contains(#"tributary_app_info{app="web",project="default",cluster="",sync_status="Synced",health=""} 1"#))
            try await waitUntil("the reader's lag on /metrics", timeout: .seconds(30)) {
                let text = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer viewer-token"]).body)
                return text.contains("tributary_consumer_lag{group=\"tributary-status-reader\",topic=\"\(self.topics.sync)\"} 0")
            }
        }

        // A second replica, or this one restarted, rebuilds the same state from the topics.
        let (_, again) = try await self.startServer()
        try await Application(router: again.router()).test(.live) { client in
            let body = try await client.execute(uri: "/api/v1/apps", method: .get, headers: [.authorization: "Bearer operator-token"]).body
            #expect(Data(buffer: body) == first.withLock { $0 })
        }
    }

    @Test func tokensDecideWhoSeesWhatAndWhoMayAct() async throws {
        try await self.publish(Self.event("cart", .succeeded, revision: "a1", delivery: "cart-push"))
        let (_, server) = try await self.startServer()
        try await Application(router: server.router()).test(.live) { client in
            let anonymous = try await client.execute(uri: "/api/v1/apps", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(try await Self.get(client, "/api/v1/apps", token: "guessed").status == .unauthorized)
            #expect(try await Self.get(client, "/healthz", token: nil).status == .ok)

            // The viewer's token sees only the default project: cart (project shop) is not there.
            let viewed = try await Self.get(client, "/api/v1/apps", token: "viewer-token")
            #expect((viewed.json["apps"] as? [[String: Any]])?.map { $0["app"] as? String } == ["web"])
            #expect(try await Self.get(client, "/api/v1/apps/cart", token: "viewer-token").status == .notFound)
            // A push that touched only cart is not the viewer's to see; nor is cart on /metrics.
            #expect(try await Self.get(client, "/api/v1/pushes/cart-push", token: "viewer-token").status == .notFound)
            #expect(try await Self.get(client, "/api/v1/pushes/cart-push").status == .ok)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer viewer-token"]).body)
            #expect(metrics.contains(#"app="web""#) && !metrics.contains(#"app="cart""#))

            let refused = try await client.execute(uri: "/api/v1/apps/web/suspend", method: .post, headers: [.authorization: "Bearer viewer-token"])
            #expect(refused.status == .forbidden)
            let suspended = try await client.execute(
                uri: "/api/v1/apps/web/suspend", method: .post, headers: [.authorization: "Bearer operator-token", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"reason": "freeze"}"#)
            )
            #expect(suspended.status == .accepted)
            let synced = try await client.execute(uri: "/api/v1/apps/cart/sync", method: .post, headers: [.authorization: "Bearer operator-token"], body: ByteBuffer(string: #"{"dryRun": true}"#))
            #expect(synced.status == .accepted)
            let requestID = try #require((try JSONSerialization.jsonObject(with: Data(buffer: synced.body)) as? [String: Any])?["requestID"] as? String)

            // What the actions published, as the workers will read it.
            let reader = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("actions"), topics: [self.topics.controls, self.topics.requests])
            var control: AppControl?
            var request: SyncRequest?
            for try await message in reader.messages {
                if message.topic == self.topics.controls, let value = message.value { control = try TributaryJSON.decode(AppControl.self, from: Data(value)) }
                if message.topic == self.topics.requests { request = try CloudEvent(kafkaMessage: message).decodePayload(as: SyncRequest.self) }
                if control != nil && request != nil { break }
            }
            await reader.close()
            #expect(control?.app == "web" && control?.suspended == true && control?.by == "alice" && control?.reason == "freeze")
            #expect(request?.app == "cart" && request?.changeID == requestID && request?.manual?.dryRun == true)
        }
    }

    @Test func theEventStreamSendsSyncEventsAsTheyArrive() async throws {
        let (_, server) = try await self.startServer()
        try await Application(router: server.router()).test(.live) { client in
            let port = try #require(client.port)
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("sse-\(UUID().uuidString)").path
            FileManager.default.createFile(atPath: output, contents: nil)
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-sN", "--max-time", "60", "-H", "Authorization: Bearer viewer-token", "http://127.0.0.1:\(port)/api/v1/events"]
            curl.standardOutput = FileHandle(forWritingAtPath: output)
            try curl.run()
            defer { curl.terminate() }
            func received() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
            try await waitUntil("the stream to open") { received().contains(": sync events as they arrive") }
            try await self.publish(Self.event("cart", .succeeded, revision: "hidden"))  // not the viewer's project
            try await self.publish(Self.event("web", .succeeded, revision: "live-1"), id: "live-event")
            try await waitUntil("the live event") { received().contains("id: live-event") }
            #expect(received().contains("event: sync\ndata: {"))
            #expect(received().contains(#""revision":"live-1""#))
            #expect(!received().contains("hidden"))
        }
    }

    @Test func theDashboardRendersTheAppsAndALiveEventUpdatesARowWithoutReload() async throws {
        try await self.publish(Self.event("web", .succeeded, revision: "0ld0ld0ld0ld0ld0"))
        try await self.publish(Self.event("cart", .failed, revision: "bad"))
        let (_, server) = try await self.startServer()
        try await Application(router: server.router()).test(.live) { client in
            let port = try #require(client.port)
            try FileManager.default.createDirectory(at: DashboardBrowser.artifacts, withIntermediateDirectories: true)
            let output = DashboardBrowser.artifacts.appendingPathComponent("dashboard-browser.log").path
            FileManager.default.createFile(atPath: output, contents: nil)
            let browser = Process()
            browser.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let revision = "1ive1ive1ive1ive1ive"
            // The viewer sees the default project's app only; its Sync button must be refused.
            browser.arguments = ["python3", DashboardBrowser.script, "http://127.0.0.1:\(port)/", "viewer-token", revision, DashboardBrowser.artifacts.path]
            browser.standardOutput = FileHandle(forWritingAtPath: output)
            browser.standardError = FileHandle(forWritingAtPath: output)
            try browser.run()
            defer { if browser.isRunning { browser.terminate() } }
            func log() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
            try await waitUntil("the dashboard rendered in Chromium", timeout: .seconds(90)) { log().contains("RENDERED") || log().contains("FAILED") || !browser.isRunning }
            #expect(log().contains("RENDERED"), "\(log())")
            try await self.publish(Self.event("web", .succeeded, revision: revision))
            try await waitUntil("the browser to finish", timeout: .seconds(90)) { !browser.isRunning }
            let lines = log()
            #expect(browser.terminationStatus == 0, "\(lines)")
            #expect(lines.contains("ROWS web\n"), "\(lines)")  // cart is another project's
            #expect(lines.contains("WEB Synced 0ld0ld0ld0ld"))
            #expect(lines.contains("LIVE 1ive1ive1ive marker=kept"))
            #expect(lines.contains("SYNC Not allowed: this token may only read"))
            #expect(lines.contains("OK"))
            let phoneWidth = lines.split(separator: "\n").first { $0.hasPrefix("PHONE_WIDTH ") }.flatMap { Int($0.dropFirst(12)) } ?? .max
            #expect(phoneWidth <= 390, "the apps page scrolls sideways on a phone: \(phoneWidth) px")
            #expect(FileManager.default.fileExists(atPath: DashboardBrowser.artifacts.appendingPathComponent("dashboard-apps.png").path))
        }
    }

    @Test func theOpenAPIDocumentDescribesRealResponses() async throws {
        let change = ChangeEvent(
            provider: "github", deliveryID: "push-doc", repository: .init(key: "git.example.com/acme/infra", cloneURLs: []), ref: "refs/heads/main",
            before: String(repeating: "0", count: 40), after: "d0c", pusher: "alice"
        )
        _ = try await self.producer.deliver(try CloudEvent(source: "test", type: ChangeEvent.eventType, payload: change).kafkaMessage(topic: self.topics.changes, key: change.repository.key))
        var failed = Self.event("cart", .failed, revision: "b2")
        failed.message = "cart/bad.yaml:3: invalid YAML"
        try await self.publish(failed)
        var synced = Self.event("web", .succeeded, revision: "d0c", delivery: "push-doc")
        synced.resources = .init(created: 1)
        synced.timings = .init(fetchMilliseconds: 1, renderMilliseconds: 2, applyMilliseconds: 3)
        synced.health = .init(status: "Healthy")
        try await self.publish(synced)
        var observed = Self.event("web", .outOfSync, revision: "e0f")
        observed.difference = .init(update: ["configmap_shop_web.yaml"])
        try await self.publish(observed)
        let notification = NotificationEvent(sink: "slack", app: "web", trigger: "on-sync-succeeded", revision: "d0c", syncEventID: "x", sync: synced)
        _ = try await self.producer.deliver(try CloudEvent(source: "test", type: NotificationEvent.eventType, payload: notification).kafkaMessage(topic: self.topics.notifications, key: "slack/web"))
        let record = DeliveryRecord(sink: "slack", app: "web", trigger: "on-sync-succeeded", revision: "d0c", outcome: .delivered, at: Date())
        _ = try await self.producer.deliver(KafkaProducerMessage(topic: self.topics.delivered, key: notification.deduplicationKey, value: Array(try TributaryJSON.encode(record))))

        let (model, server) = try await self.startServer()
        try await waitUntil("the delivery recorded") { model.read { $0.push("push-doc")?.notifications.first?.outcome } != nil }
        try await Application(router: server.router()).test(.live) { client in
            var samples: [[String: Any]] = []
            func sample(_ operation: String, _ method: HTTPRequest.Method, _ path: String, token: String? = "operator-token", body: String? = nil) async throws {
                var headers = HTTPFields()
                if let token { headers[.authorization] = "Bearer \(token)" }
                let response = try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
                samples.append(["operationId": operation, "status": Int(response.status.code), "body": try JSONSerialization.jsonObject(with: Data(buffer: response.body))])
            }
            try await sample("listApps", .get, "/api/v1/apps")
            try await sample("listApps", .get, "/api/v1/apps", token: nil)
            try await sample("getApp", .get, "/api/v1/apps/cart")
            try await sample("getApp", .get, "/api/v1/apps/web")
            try await sample("getApp", .get, "/api/v1/apps/nowhere")
            try await sample("getPush", .get, "/api/v1/pushes/push-doc")
            try await sample("syncApp", .post, "/api/v1/apps/web/sync", body: #"{"dryRun": true, "prune": false}"#)
            try await sample("syncApp", .post, "/api/v1/apps/web/sync", token: "viewer-token")
            try await sample("suspendApp", .post, "/api/v1/apps/web/suspend", body: #"{"reason": "docs"}"#)
            try await sample("resumeApp", .post, "/api/v1/apps/web/resume")
            let document = try await client.execute(uri: "/api/v1/openapi.yaml", method: .get)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try Data(buffer: document.body).write(to: directory.appendingPathComponent("openapi.yaml"))
            try JSONSerialization.data(withJSONObject: samples).write(to: directory.appendingPathComponent("samples.json"))
            let result = try run(["python3", OpenAPICheck.script, directory.appendingPathComponent("openapi.yaml").path, directory.appendingPathComponent("samples.json").path])
            #expect(result == "10 responses match the document", "\(result)")
        }
    }
}
