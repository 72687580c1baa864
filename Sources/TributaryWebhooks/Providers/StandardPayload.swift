import TributaryCore

/// Tributary's generic push payload for Standard Webhooks senders (CI systems, scripts, other hosts).
///
/// ```json
/// {"type": "push", "repository": {"url": "https://git.example.com/acme/infra.git", "cloneURLs": []},
///  "ref": "refs/heads/main", "before": "<sha>", "after": "<sha>", "pusher": "ci",
///  "forced": false, "changedPaths": {"added": [], "modified": [], "removed": [], "complete": false}}
/// ```
/// `type: "ping"` is answered 200; other types are ignored.
struct StandardPushPayload {
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

    init(_ json: JSONValue) throws {
        self.type = try json.string("type")
        self.repository = try json.member("repository").map(Repository.init)
        self.ref = try json.optionalString("ref")
        self.before = try json.optionalString("before")
        self.after = try json.optionalString("after")
        self.created = try json.optionalBool("created")
        self.deleted = try json.optionalBool("deleted")
        self.forced = try json.optionalBool("forced")
        self.pusher = try json.optionalString("pusher")
        self.changedPaths = try json.member("changedPaths").map { paths in
            ChangeEvent.ChangedPaths(
                added: try paths.optionalStrings("added") ?? [],
                modified: try paths.optionalStrings("modified") ?? [],
                removed: try paths.optionalStrings("removed") ?? [],
                complete: try paths.required("complete").bool()
            )
        }
    }

    struct Repository {
        var url: String
        var cloneURLs: [String]?
        var webURL: String?

        init(_ json: JSONValue) throws {
            self.url = try json.string("url")
            self.cloneURLs = try json.optionalStrings("cloneURLs")
            self.webURL = try json.optionalString("webURL")
        }
    }
}

enum StandardPayloadParser {
    static func parse(body: [UInt8]) throws -> ParsedWebhook {
        let payload = try StandardPushPayload(PayloadDecoding.parse(body))
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
