import Foundation
import TributaryCore

/// Tributary's generic push payload for Standard Webhooks senders (CI systems, scripts, other hosts).
///
/// ```json
/// {"type": "push", "repository": {"url": "https://git.example.com/acme/infra.git", "cloneURLs": []},
///  "ref": "refs/heads/main", "before": "<sha>", "after": "<sha>", "pusher": "ci",
///  "forced": false, "changedPaths": {"added": [], "modified": [], "removed": [], "complete": false}}
/// ```
/// `type: "ping"` is answered 200; other types are ignored.
struct StandardPushPayload: Decodable {
    var type: String
    var repository: Repository?
    var ref: String?
    var before: String?
    var after: String?
    var created: Bool?
    var deleted: Bool?
    var forced: Bool?
    var pusher: String?
    var changedPaths: ChangeEvent.ChangedPaths?

    struct Repository: Decodable {
        var url: String
        var cloneURLs: [String]?
        var webURL: String?
    }
}

enum StandardPayloadParser {
    static func parse(body: [UInt8]) throws -> ParsedWebhook {
        let payload = try PayloadDecoding.decode(StandardPushPayload.self, from: body)
        switch payload.type {
        case "ping":
            return .ping
        case "push":
            guard let repository = payload.repository, let ref = payload.ref else {
                throw MalformedPayload(reason: "a push needs repository and ref")
            }
            return .pushes([
                ParsedPush(
                    repository: try ChangeEvent.Repository(urls: [repository.url] + (repository.cloneURLs ?? []), webURL: repository.webURL),
                    ref: ref,
                    before: payload.before,
                    after: payload.after,
                    created: payload.created,
                    deleted: payload.deleted,
                    forced: payload.forced ?? false,
                    pusher: payload.pusher,
                    changedPathHints: payload.changedPaths
                )
            ])
        default:
            return .ignored("\(payload.type) events are not acted on")
        }
    }
}
