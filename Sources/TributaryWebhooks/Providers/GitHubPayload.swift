import HTTPTypes
import TributaryCore

/// GitHub's push payload; Gitea and Forgejo send the same shape.
struct GitHubPushPayload {
    var ref: String
    var before: String?
    var after: String?
    var created: Bool?
    var deleted: Bool?
    var forced: Bool?
    var repository: Repository
    var pusher: Pusher?
    var commits: PayloadCommits
    /// Gitea and Forgejo: how many commits the push had (the list may be shorter).
    var totalCommits: Int?

    init(_ json: JSONValue) throws {
        self.ref = try json.string("ref")
        self.before = try json.optionalString("before")
        self.after = try json.optionalString("after")
        self.created = try json.optionalBool("created")
        self.deleted = try json.optionalBool("deleted")
        self.forced = try json.optionalBool("forced")
        self.repository = try Repository(json.required("repository"))
        self.pusher = try json.member("pusher").map(Pusher.init)
        self.commits = try PayloadCommits(json.member("commits"))
        self.totalCommits = try json.optionalInt("total_commits")
    }

    struct Repository {
        var cloneURL: String?
        var sshURL: String?
        var gitURL: String?
        var htmlURL: String?

        init(_ json: JSONValue) throws {
            self.cloneURL = try json.optionalString("clone_url")
            self.sshURL = try json.optionalString("ssh_url")
            self.gitURL = try json.optionalString("git_url")
            self.htmlURL = try json.optionalString("html_url")
        }
    }

    struct Pusher {
        var name: String?
        var login: String?
        var username: String?

        init(_ json: JSONValue) throws {
            self.name = try json.optionalString("name")
            self.login = try json.optionalString("login")
            self.username = try json.optionalString("username")
        }
    }
}

/// Gitea's and Forgejo's `delete` event: a branch or tag was removed.
struct GiteaDeletePayload {
    var ref: String
    var refType: String
    var repository: GitHubPushPayload.Repository
    var sender: GitHubPushPayload.Pusher?

    init(_ json: JSONValue) throws {
        self.ref = try json.string("ref")
        self.refType = try json.string("ref_type")
        self.repository = try GitHubPushPayload.Repository(json.required("repository"))
        self.sender = try json.member("sender").map(GitHubPushPayload.Pusher.init)
    }
}

enum GitHubPayloadParser {
    /// GitHub caps the commits array at 2048.
    static let gitHubCommitLimit = 2048

    static func parse(_ provider: WebhookProvider, headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        let eventHeader: HTTPField.Name =
            switch provider {
            case .gitea: .giteaEvent
            case .forgejo: .forgejoEvent
            default: .gitHubEvent
            }
        // Forgejo also sends X-Gitea-Event and X-GitHub-Event; fall back for older senders.
        let event = headers[eventHeader] ?? headers[.gitHubEvent] ?? ""
        switch event {
        case "ping":
            return .ping
        case "push":
            let payload = try GitHubPushPayload(PayloadDecoding.parse(body))
            // Commit lists cover new commits only: after a force push or on a new branch they miss paths.
            let listed =
                if let total = payload.totalCommits { payload.commits.count >= total } else { payload.commits.count < Self.gitHubCommitLimit }
            let complete = listed && payload.forced != true && payload.created != true && !ParsedPush.isZero(payload.before ?? "")
            let repository = try ChangeEvent.Repository(
                urls: [payload.repository.cloneURL, payload.repository.sshURL, payload.repository.gitURL],
                webURL: payload.repository.htmlURL
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
                    changedPathHints: payload.commits.changedPaths(complete: complete)
                )
            ])
        case "delete" where provider != .github:
            // GitHub reports deletions as a push with deleted=true too; Gitea and Forgejo only with this event.
            let payload = try GiteaDeletePayload(PayloadDecoding.parse(body))
            let ref = payload.ref.hasPrefix("refs/") ? payload.ref : (payload.refType == "tag" ? "refs/tags/" : "refs/heads/") + payload.ref
            return .pushes([
                ParsedPush(
                    repository: try ChangeEvent.Repository(urls: [payload.repository.cloneURL, payload.repository.sshURL], webURL: payload.repository.htmlURL),
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
            throw MalformedPayload(reason: "missing \(eventHeader.rawName) header")
        default:
            return .ignored("\(event) events are not acted on")
        }
    }
}

/// Payload parsing with errors that say what is wrong without echoing the body.
enum PayloadDecoding {
    /// The body's top-level value.
    ///
    /// - Throws: `MalformedPayload` naming the problem and its byte offset.
    static func parse(_ body: [UInt8]) throws -> JSONValue {
        do {
            return JSONValue(root: try JSONTape(parsing: body))
        } catch {
            throw MalformedPayload(reason: "body is not valid JSON: \(error)")
        }
    }
}
