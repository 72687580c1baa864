import Foundation
import Hummingbird
import Logging
import NIOCore
import TributaryCore
import TributaryKafka

/// The webhook HTTP server: `POST /hooks/{provider}`, `POST /hooks`, `/healthz`, `/readyz`, `/metrics`.
public struct WebhookListener: Sendable {
    private let handler: WebhookHandler
    private let settings: ListenerSettings
    private let topics: TributaryTopics
    private let producer: KafkaProducer
    private let metrics = ListenerMetrics()
    private let logger: Logger

    /// Producer settings for the listener: each message fails after `publishTimeout`, so a request
    /// never waits longer than that for the broker.
    /// The batching producer lingers 1 ms; the immediate one (`immediate: true`) not at all — see
    /// `ListenerPublisher`.
    public static func producerConfiguration(_ configuration: TributaryConfiguration, kafka: KafkaConfiguration, immediate: Bool = false) -> KafkaProducerConfiguration {
        var producer = KafkaProducerConfiguration(kafka: kafka)
        producer.messageTimeout = configuration.listener.publishTimeout
        producer.linger = immediate ? .zero : .milliseconds(1)
        return producer
    }

    /// Resolves the webhook secrets.
    ///
    /// - Throws: `WebhookConfigurationError` naming a secret that cannot be read.
    public init(configuration: TributaryConfiguration, publisher: ListenerPublisher, logger: Logger) throws {
        self.settings = configuration.listener
        self.topics = configuration.kafka.topics
        self.producer = publisher.batching
        self.logger = logger
        self.handler = try WebhookHandler(configuration: configuration, publisher: publisher, metrics: self.metrics, logger: logger)
    }

    /// A listener publishing through one producer.
    public init(configuration: TributaryConfiguration, producer: KafkaProducer, logger: Logger) throws {
        try self.init(configuration: configuration, publisher: ListenerPublisher(producer), logger: logger)
    }

    /// The HTTP application; run it as a service after the producer so it stops first.
    ///
    /// - Parameters:
    ///   - onServerRunning: called with the bound port once the server listens (useful with port 0).
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        let listener = self
        router.post("/hooks/{provider}") { request, context in
            let name = context.parameters.get("provider") ?? ""
            guard let provider = WebhookProvider(rawValue: name) else {
                listener.metrics.recordRequest(provider: "unknown", outcome: "not_found")
                return Self.json(.notFound, ["error": "unknown provider \(name); expected one of \(WebhookProvider.allCases.map(\.rawValue).joined(separator: ", "))"])
            }
            return try await listener.receive(request, provider: provider)
        }
        router.post("/hooks") { request, _ in
            guard let provider = WebhookProvider.detect(from: request.headers) else {
                listener.metrics.recordRequest(provider: "unknown", outcome: "bad_request")
                return Self.json(.badRequest, ["error": "cannot tell the sender from the headers; post to /hooks/{provider}"])
            }
            return try await listener.receive(request, provider: provider)
        }
        for path in ["/hooks", "/hooks/{provider}"] {
            for method: HTTPRequest.Method in [.get, .put, .patch, .delete, .head] {
                router.on(RouterPath(path), method: method) { _, _ in
                    var response = Self.json(.methodNotAllowed, ["error": "use POST"])
                    response.headers[.allow] = "POST"
                    return response
                }
            }
        }
        router.get("/healthz") { _, _ in Self.json(.ok, ["status": "alive"]) }
        router.get("/readyz") { _, _ in await listener.readiness() }
        if self.settings.metricsAddress == nil {
            router.get("/metrics") { _, _ in listener.metricsResponse() }
        }
        let timeout = TimeAmount.nanoseconds(Int64(self.settings.requestTimeout.components.seconds) * 1_000_000_000 + self.settings.requestTimeout.components.attoseconds / 1_000_000_000)
        let headerBytes = self.settings.maxHeaderBytes
        return Application(
            router: router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [RequestDeadlineHandler(timeout: timeout)],
                idleTimeout: timeout,
                httpDecoderConfiguration: .init(maxHeaderFieldSize: headerBytes, maxHeaderListSize: headerBytes, maxHeaderFieldCount: 200)
            )),
            configuration: .init(address: .hostname(self.settings.host, port: self.settings.port), serverName: "tributary"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
    }

    /// `/metrics` alone on `listener.metricsAddress` (nil when it is not set): scrapers need not
    /// reach the port the Git hosts post to.
    public func makeMetricsApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> (some ApplicationProtocol)? {
        guard let address = self.settings.metricsAddress else { return nil as Application<RouterResponder<BasicRequestContext>>? }
        let router = Router(context: BasicRequestContext.self)
        let listener = self
        router.get("/metrics") { _, _ in listener.metricsResponse() }
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "tributary"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
    }

    private func metricsResponse() -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: self.metrics.render())))
    }

    private func receive(_ request: Request, provider: WebhookProvider) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > self.settings.maxBodyBytes {
            self.metrics.recordRequest(provider: provider.rawValue, outcome: "too_large")
            return Self.json(.contentTooLarge, ["error": "body exceeds \(self.settings.maxBodyBytes) bytes"])
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: self.settings.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            self.metrics.recordRequest(provider: provider.rawValue, outcome: "too_large")
            return Self.json(.contentTooLarge, ["error": "body exceeds \(self.settings.maxBodyBytes) bytes"])
        }
        let response = await self.handler.handle(provider, headers: request.headers, body: Array(buffer: buffer))
        var http = Response(
            status: response.status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: response.jsonBody))
        )
        if let retryAfter = response.retryAfter { http.headers[.retryAfter] = String(retryAfter) }
        return http
    }

    /// Ready when a broker answers and every Tributary topic exists.
    private func readiness() async -> Response {
        do {
            let partitions = try await self.producer.partitionCounts(timeout: .seconds(2))
            let missing = self.topics.all.filter { partitions[$0] == nil }
            guard missing.isEmpty else {
                return Self.json(.serviceUnavailable, ["status": "not ready", "error": "missing topics: \(missing.joined(separator: ", "))"])
            }
            return Self.json(.ok, ["status": "ready"])
        } catch {
            return Self.json(.serviceUnavailable, ["status": "not ready", "error": "Kafka is not reachable"])
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: [String: String]) -> Response {
        var json = JSONWriter(capacity: 128)
        json.beginObject()
        for key in body.keys.sorted() {
            json.key(key)
            json.string(body[key]!)
        }
        json.endObject()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
