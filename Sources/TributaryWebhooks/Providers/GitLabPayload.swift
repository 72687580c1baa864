import Foundation
import HTTPTypes
import TributaryCore

/// GitLab's push and tag-push payload (also inside system hooks).
struct GitLabPushPayload: Decodable {
    var object_kind: String
    var ref: String
    var before: String?
    var after: String?
    var user_username: String?
    var user_name: String?
    var project: Project
    var commits: [PayloadCommit]?
    var total_commits_count: Int?

    struct Project: Decodable {
        var git_http_url: String?
        var git_ssh_url: String?
        var web_url: String?
    }
}

/// Just enough of any GitLab hook to tell its kind.
struct GitLabEventKind: Decodable {
    var object_kind: String?
    var event_name: String?
}

enum GitLabPayloadParser {
    static func parse(headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        guard let event = headers.value("X-Gitlab-Event") else {
            throw MalformedPayload(reason: "missing X-Gitlab-Event header")
        }
        switch event {
        case "Push Hook", "Tag Push Hook", "System Hook":
            // System hooks carry many event kinds, most without a ref: look at the kind first.
            let tape = try PayloadDecoding.parse(body)
            let kind = try PayloadDecoding.decode(GitLabEventKind.self, from: tape)
            guard let objectKind = kind.object_kind ?? kind.event_name, objectKind == "push" || objectKind == "tag_push" else {
                return .ignored("\(kind.object_kind ?? kind.event_name ?? "unnamed") events are not acted on")
            }
            let payload = try PayloadDecoding.decode(GitLabPushPayload.self, from: tape)
            let commits = payload.commits ?? []
            // GitLab lists at most 20 commits; total_commits_count tells whether that is all of them.
            let complete = commits.count >= (payload.total_commits_count ?? commits.count) && !ParsedPush.isZero(payload.before ?? "")
            return .pushes([
                ParsedPush(
                    repository: try ChangeEvent.Repository(urls: [payload.project.git_http_url, payload.project.git_ssh_url], webURL: payload.project.web_url),
                    ref: payload.ref,
                    before: payload.before,
                    after: payload.after,
                    pusher: payload.user_username ?? payload.user_name,
                    changedPathHints: ChangeEvent.ChangedPaths(commits: commits, complete: complete)
                )
            ])
        default:
            return .ignored("\(event) events are not acted on")
        }
    }
}
