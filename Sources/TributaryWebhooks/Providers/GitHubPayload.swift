import Foundation
import HTTPTypes
import TributaryCore

/// GitHub's push payload; Gitea and Forgejo send the same shape.
struct GitHubPushPayload: Decodable {
    var ref: String
    var before: String?
    var after: String?
    var created: Bool?
    var deleted: Bool?
    var forced: Bool?
    var repository: Repository
    var pusher: Pusher?
    var commits: [PayloadCommit]?
    /// Gitea and Forgejo: how many commits the push had (the list may be shorter).
    var total_commits: Int?

    struct Repository: Decodable {
        var clone_url: String?
        var ssh_url: String?
        var git_url: String?
        var html_url: String?
    }

    struct Pusher: Decodable {
        var name: String?
        var login: String?
        var username: String?
    }
}

/// Gitea's and Forgejo's `delete` event: a branch or tag was removed.
struct GiteaDeletePayload: Decodable {
    var ref: String
    var ref_type: String
    var repository: GitHubPushPayload.Repository
    var sender: GitHubPushPayload.Pusher?
}

enum GitHubPayloadParser {
    /// GitHub caps the commits array at 2048.
    static let gitHubCommitLimit = 2048

    static func parse(_ provider: WebhookProvider, headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        let eventHeader: String =
            switch provider {
            case .gitea: "X-Gitea-Event"
            case .forgejo: "X-Forgejo-Event"
            default: "X-GitHub-Event"
            }
        // Forgejo also sends X-Gitea-Event and X-GitHub-Event; fall back for older senders.
        let event = headers.value(eventHeader) ?? headers.value("X-GitHub-Event") ?? ""
        switch event {
        case "ping":
            return .ping
        case "push":
            let payload = try PayloadDecoding.decode(GitHubPushPayload.self, from: body)
            let commits = payload.commits ?? []
            // Commit lists cover new commits only: after a force push or on a new branch they miss paths.
            let listed =
                if let total = payload.total_commits { commits.count >= total } else { commits.count < Self.gitHubCommitLimit }
            let complete = listed && payload.forced != true && payload.created != true && !ParsedPush.isZero(payload.before ?? "")
            let repository = try ChangeEvent.Repository(
                urls: [payload.repository.clone_url, payload.repository.ssh_url, payload.repository.git_url],
                webURL: payload.repository.html_url
            )
            return .pushes([
                ParsedPush(
                    repository: repository,
                    ref: payload.ref,
                    before: payload.before,
                    after: payload.after,
                    created: payload.created,
                    deleted: payload.deleted,
                    forced: payload.forced ?? false,
                    pusher: payload.pusher.flatMap { $0.name ?? $0.login ?? $0.username },
                    changedPathHints: ChangeEvent.ChangedPaths(commits: commits, complete: complete)
                )
            ])
        case "delete" where provider != .github:
            // GitHub reports deletions as a push with deleted=true too; Gitea and Forgejo only with this event.
            let payload = try PayloadDecoding.decode(GiteaDeletePayload.self, from: body)
            let ref = payload.ref.hasPrefix("refs/") ? payload.ref : (payload.ref_type == "tag" ? "refs/tags/" : "refs/heads/") + payload.ref
            return .pushes([
                ParsedPush(
                    repository: try ChangeEvent.Repository(urls: [payload.repository.clone_url, payload.repository.ssh_url], webURL: payload.repository.html_url),
                    ref: ref,
                    before: nil,
                    after: nil,
                    created: false,
                    deleted: true,
                    pusher: payload.sender.flatMap { $0.login ?? $0.username ?? $0.name },
                    changedPathHints: nil
                )
            ])
        case "":
            throw MalformedPayload(reason: "missing \(eventHeader) header")
        default:
            return .ignored("\(event) events are not acted on")
        }
    }
}

/// JSON decoding with errors that say what is wrong without echoing the body.
enum PayloadDecoding {
    static func decode<Payload: Decodable>(_ type: Payload.Type, from body: [UInt8]) throws -> Payload {
        try Self.decode(type, from: try Self.parse(body))
    }

    /// Parses once for callers that read a body as more than one type.
    static func parse(_ body: [UInt8]) throws -> JSONTape {
        do {
            return try JSONTape(parsing: body)
        } catch {
            throw MalformedPayload(reason: "body is not valid JSON: \(error)")
        }
    }

    static func decode<Payload: Decodable>(_ type: Payload.Type, from tape: JSONTape) throws -> Payload {
        do {
            return try JSONTapeDecoder.decode(type, from: tape)
        } catch DecodingError.keyNotFound(let key, let context) {
            throw MalformedPayload(reason: "payload lacks \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw MalformedPayload(reason: "payload field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch DecodingError.dataCorrupted(let context) {
            throw MalformedPayload(reason: "payload field \(context.codingPath.map(\.stringValue).joined(separator: ".")) is invalid: \(context.debugDescription)")
        }
    }
}
