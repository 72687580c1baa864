import HTTPTypes
import TributaryCore

/// GitLab's push and tag-push payload (also inside system hooks).
struct GitLabPushPayload {
    var ref: String
    var before: String?
    var after: String?
    var userUsername: String?
    var userName: String?
    var project: Project
    var commits: PayloadCommits
    var totalCommitsCount: Int?

    init(_ json: JSONValue) throws {
        self.ref = try json.string("ref")
        self.before = try json.optionalString("before")
        self.after = try json.optionalString("after")
        self.userUsername = try json.optionalString("user_username")
        self.userName = try json.optionalString("user_name")
        self.project = try Project(json.required("project"))
        self.commits = try PayloadCommits(json.member("commits"))
        self.totalCommitsCount = try json.optionalInt("total_commits_count")
    }

    struct Project {
        var gitHTTPURL: String?
        var gitSSHURL: String?
        var webURL: String?

        init(_ json: JSONValue) throws {
            self.gitHTTPURL = try json.optionalString("git_http_url")
            self.gitSSHURL = try json.optionalString("git_ssh_url")
            self.webURL = try json.optionalString("web_url")
        }
    }
}

enum GitLabPayloadParser {
    static func parse(headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        guard let event = headers[.gitlabEvent] else {
            throw MalformedPayload(reason: "missing X-Gitlab-Event header")
        }
        switch event {
        case "Push Hook", "Tag Push Hook", "System Hook":
            // System hooks carry many event kinds, most without a ref: look at the kind first.
            let json = try PayloadDecoding.parse(body)
            let kind = try json.optionalString("object_kind") ?? json.optionalString("event_name")
            guard let kind, kind == "push" || kind == "tag_push" else {
                return .ignored("\(kind ?? "unnamed") events are not acted on")
            }
            let payload = try GitLabPushPayload(json)
            // GitLab lists at most 20 commits; total_commits_count tells whether that is all of them.
            let complete = payload.commits.count >= (payload.totalCommitsCount ?? payload.commits.count) && !ParsedPush.isZero(payload.before ?? "")
            return .pushes([
                ParsedPush(
                    repository: try ChangeEvent.Repository(urls: [payload.project.gitHTTPURL, payload.project.gitSSHURL], webURL: payload.project.webURL),
                    ref: payload.ref,
                    before: payload.before,
                    after: payload.after,
                    pusher: payload.userUsername ?? payload.userName,
                    changedPathHints: payload.commits.changedPaths(complete: complete)
                )
            ])
        default:
            return .ignored("\(event) events are not acted on")
        }
    }
}
