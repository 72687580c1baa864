import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TributaryCore

/// Delivers one notification somewhere. Implementations throw `DeliveryFailure` to say whether
/// and when to try again; they never put a secret (a webhook URL, a password) in it.
protocol NotificationSink: Sendable {
    func deliver(_ notification: NotificationEvent, as event: CloudEvent) async throws
}

/// Why a delivery failed, and whether it is worth retrying.
public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// False for answers that will not change (a 4xx other than 408/429, SMTP 5yz).
    public var isRetryable: Bool
    /// The receiver's `Retry-After`, when it sent one.
    public var retryAfter: Duration?

    public var description: String { self.message }

    /// Classifies an HTTP answer: 2xx is not a failure (nil); 408, 429 and 5xx are retried.
    static func http(status: HTTPResponseStatus, headers: HTTPHeaders, sink: String) -> DeliveryFailure? {
        guard !(200..<300).contains(status.code) else { return nil }
        let retryAfter = headers.first(name: "retry-after").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { Duration.seconds($0) }
        let retryable = status.code == 408 || status.code == 429 || status.code >= 500
        return DeliveryFailure(message: "\(sink) answered HTTP \(status.code)", isRetryable: retryable, retryAfter: retryAfter)
    }

    /// A transport error: retried. The description of an HTTP client error can contain the URL, so
    /// only its kind is kept.
    static func transport(_ error: any Error, sink: String) -> DeliveryFailure {
        let kind = String(describing: type(of: error))
        let detail = (error as? HTTPClientError).map { "\($0.shortDescription)" } ?? kind
        return DeliveryFailure(message: "\(sink) could not be reached (\(detail))", isRetryable: true)
    }
}

extension HTTPClientError {
    /// The error's kind without any URL or host it may mention.
    var shortDescription: String {
        switch self {
        case .connectTimeout: "connect timeout"
        case .readTimeout: "read timeout"
        case .deadlineExceeded: "deadline exceeded"
        case .remoteConnectionClosed: "connection closed"
        default: "HTTP client error"
        }
    }
}

/// POSTs a body; shared by the Slack and webhook sinks.
struct HTTPPoster: Sendable {
    let client: HTTPClient
    let timeout: Duration

    func post(to url: String, body: [UInt8], headers: [(String, String)], sink: String) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await self.client.execute(request, timeout: .milliseconds(self.timeout.components.seconds * 1000))
            _ = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw DeliveryFailure.transport(error, sink: sink)
        }
        if let failure = DeliveryFailure.http(status: response.status, headers: response.headers, sink: sink) { throw failure }
    }
}
