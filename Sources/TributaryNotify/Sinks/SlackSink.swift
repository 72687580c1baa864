import Foundation
import TributaryCore

/// A Slack incoming webhook: `{"text": ...}` rendered from the trigger's Slack template.
struct SlackSink: NotificationSink {
    let name: String
    let url: String
    let templates: NotificationTemplates
    let poster: HTTPPoster

    func deliver(_ notification: NotificationEvent, as event: CloudEvent) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["text": self.templates.slackText(for: notification)], options: [.sortedKeys])
        try await self.poster.post(to: self.url, body: Array(body), headers: [("Content-Type", "application/json")], sink: "sink \(self.name)")
    }
}
