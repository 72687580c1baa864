import Foundation
import TributaryCore

/// Email over SMTP, rendered from the trigger's subject and body templates.
struct EmailSink: NotificationSink {
    let name: String
    let settings: SinkSettings.Email
    let templates: NotificationTemplates

    func deliver(_ notification: NotificationEvent, as event: CloudEvent) async throws {
        let (subject, body) = self.templates.email(for: notification)
        var credentials: (String, String)?
        if let username = self.settings.username, let password = self.settings.password {
            do {
                credentials = (try username.resolve(), try password.resolve())
            } catch {
                throw DeliveryFailure(message: "sink \(self.name): \(error)", isRetryable: false)
            }
        }
        let security: SMTPClient.Security = switch self.settings.tls {
        case .none: .none
        case .starttls: .startTLS
        case .tls: .implicitTLS
        }
        let client = SMTPClient(
            host: self.settings.host,
            port: self.settings.port,
            security: security,
            credentials: credentials,
            caFile: self.settings.caFile,
            timeout: .seconds(30)
        )
        // The Message-ID is derived from the notification, so a receiver can spot a redelivery.
        let messageID = "\(notification.deduplicationKey.replacingOccurrences(of: "/", with: ".").replacingOccurrences(of: " ", with: "_"))@tributary"
        try await client.send(.init(from: self.settings.from, to: self.settings.to, subject: subject, body: body, messageID: messageID))
    }
}
