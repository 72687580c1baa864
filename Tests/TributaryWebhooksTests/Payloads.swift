import Foundation
import TributaryWebhooks

/// Push payloads shaped like each host's (trimmed to what matters, plus some noise fields).
enum Payloads {
    static let before = "1111111111111111111111111111111111111111"
    static let after = "2222222222222222222222222222222222222222"
    static let zero = String(repeating: "0", count: 40)

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// The repository key each provider's sample payload normalises to.
    static func expectedKey(_ provider: WebhookProvider) -> String {
        switch provider {
        case .github: "github.com/acme/infra"
        case .gitlab: "gitlab.example.com/platform/infra"
        case .gitea: "gitea.example.com/acme/infra"
        case .forgejo: "codeberg.example.org/acme/infra"
        case .bitbucket: "bitbucket.org/acme/infra"
        case .bitbucketServer: "bitbucket.example.com/acme/infra"
        case .standard: "git.example.com/acme/infra"
        }
    }

    /// A push of `ref` from `before` to `after` in the sample repository of `provider`.
    static func push(_ provider: WebhookProvider, ref: String = "refs/heads/main", before: String = before, after: String = after, repository: String = "acme/infra") -> [UInt8] {
        let commits: [[String: Any]] = [["id": after, "added": ["apps/shop/new.yaml"], "modified": ["apps/shop/deploy.yaml"], "removed": []]]
        switch provider {
        case .github:
            return json([
                "ref": ref, "before": before, "after": after, "created": before == zero, "deleted": after == zero, "forced": false,
                "repository": [
                    "full_name": repository, "clone_url": "https://github.com/\(repository).git", "ssh_url": "git@github.com:\(repository).git",
                    "html_url": "https://github.com/\(repository)", "private": true,
                ],
                "pusher": ["name": "octocat", "email": "octocat@example.com"], "commits": commits, "padding": String(repeating: "x", count: 200),
            ])
        case .gitea, .forgejo:
            let host = provider == .gitea ? "gitea.example.com" : "codeberg.example.org"
            return json([
                "ref": ref, "before": before, "after": after, "total_commits": 1,
                "repository": ["full_name": repository, "clone_url": "https://\(host)/\(repository).git", "ssh_url": "git@\(host):\(repository).git", "html_url": "https://\(host)/\(repository)"],
                "pusher": ["login": "gitea-user", "username": "gitea-user"], "commits": commits,
            ])
        case .gitlab:
            return json([
                "object_kind": ref.hasPrefix("refs/tags/") ? "tag_push" : "push", "ref": ref, "before": before, "after": after, "user_username": "gl-user",
                "project": [
                    "git_http_url": "https://gitlab.example.com/platform/infra.git", "git_ssh_url": "git@gitlab.example.com:platform/infra.git",
                    "web_url": "https://gitlab.example.com/platform/infra", "path_with_namespace": "platform/infra",
                ],
                "commits": commits, "total_commits_count": 1,
            ])
        case .bitbucket:
            let name = ref.split(separator: "/").dropFirst(2).joined(separator: "/")
            let type = ref.hasPrefix("refs/tags/") ? "tag" : "branch"
            var change: [String: Any] = ["created": before == zero, "closed": after == zero, "forced": false]
            if after != zero { change["new"] = ["type": type, "name": name, "target": ["hash": after]] }
            if before != zero { change["old"] = ["type": type, "name": name, "target": ["hash": before]] }
            return json([
                "push": ["changes": [change]],
                "repository": ["full_name": "acme/infra", "links": ["html": ["href": "https://bitbucket.org/acme/infra"]]],
                "actor": ["nickname": "bb-user"],
            ])
        case .bitbucketServer:
            let type = before == zero ? "ADD" : (after == zero ? "DELETE" : "UPDATE")
            return json([
                "eventKey": "repo:refs_changed", "actor": ["name": "bbs-user"],
                "repository": [
                    "slug": "infra", "project": ["key": "ACME"],
                    "links": ["clone": [
                        ["href": "https://bitbucket.example.com/scm/acme/infra.git", "name": "http"],
                        ["href": "ssh://git@bitbucket.example.com:7999/acme/infra.git", "name": "ssh"],
                    ]],
                ],
                "changes": [["ref": ["id": ref, "type": ref.hasPrefix("refs/tags/") ? "TAG" : "BRANCH"], "refId": ref, "fromHash": before, "toHash": after, "type": type]],
            ])
        case .standard:
            return json([
                "type": "push", "repository": ["url": "https://git.example.com/acme/infra.git"], "ref": ref, "before": before, "after": after,
                "pusher": "ci", "changedPaths": ["added": ["apps/shop/new.yaml"], "modified": ["apps/shop/deploy.yaml"], "removed": [], "complete": true],
            ])
        }
    }

    /// Whether the provider's payload carries file lists.
    static func hasPathHints(_ provider: WebhookProvider) -> Bool {
        ![.bitbucket, .bitbucketServer].contains(provider)
    }
}
