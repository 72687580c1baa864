import Crypto
import Foundation
import TributaryCore

/// A generic webhook: the notification as a CloudEvent in structured JSON mode, optionally signed
/// the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`
/// over `id.timestamp.body`), so receivers can verify it with any Standard Webhooks library.
struct WebhookSink: NotificationSink {
    let name: String
    let url: String
    /// The key bytes: a `whsec_` secret is base64 after the prefix; anything else is used as is.
    let signingKey: [UInt8]?
    let poster: HTTPPoster

    func deliver(_ notification: NotificationEvent, as event: CloudEvent) async throws {
        let body = try Self.structuredJSON(event)
        var headers = [("Content-Type", "application/cloudevents+json")]
        if let key = self.signingKey {
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signed = Array("\(event.id).\(timestamp).".utf8) + body
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
            headers += [("webhook-id", event.id), ("webhook-timestamp", timestamp), ("webhook-signature", "v1,\(Data(mac).base64EncodedString())")]
        }
        try await self.poster.post(to: self.url, body: body, headers: headers, sink: "sink \(self.name)")
    }

    static func signingKey(fromSecret secret: String) -> [UInt8] {
        if secret.hasPrefix("whsec_"), let decoded = Data(base64Encoded: String(secret.dropFirst(6))) { return Array(decoded) }
        return Array(secret.utf8)
    }

    /// CloudEvents JSON format: the attributes, and `data` as the JSON value itself.
    static func structuredJSON(_ event: CloudEvent) throws -> [UInt8] {
        var object: [String: Any] = [
            "specversion": CloudEvent.specVersion, "id": event.id, "source": event.source, "type": event.type,
            "time": RFC3339.format(event.time), "datacontenttype": event.dataContentType,
            "data": try JSONSerialization.jsonObject(with: Data(event.data)),
        ]
        if let subject = event.subject { object["subject"] = subject }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}
