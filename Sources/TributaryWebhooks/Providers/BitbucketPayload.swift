import Foundation
import HTTPTypes
import TributaryCore

/// Bitbucket Cloud's `repo:push` payload.
struct BitbucketCloudPushPayload: Decodable {
    var push: Push
    var repository: Repository
    var actor: Actor?

    struct Push: Decodable { var changes: [Change] }
    struct Change: Decodable {
        var new: RefState?
        var old: RefState?
        var created: Bool?
        var closed: Bool?
        var forced: Bool?
    }
    struct RefState: Decodable {
        var type: String
        var name: String
        var target: Target?
    }
    struct Target: Decodable { var hash: String }
    struct Repository: Decodable {
        var full_name: String?
        var links: Links?
    }
    struct Links: Decodable { var html: Link? }
    struct Link: Decodable { var href: String }
    struct Actor: Decodable {
        var nickname: String?
        var display_name: String?
    }
}

/// Bitbucket Server / Data Center `repo:refs_changed` payload.
struct BitbucketServerPushPayload: Decodable {
    var actor: Actor?
    var repository: Repository
    var changes: [Change]

    struct Actor: Decodable {
        var name: String?
        var displayName: String?
    }
    struct Repository: Decodable {
        var slug: String
        var project: Project
        var links: Links?
    }
    struct Project: Decodable { var key: String }
    struct Links: Decodable {
        var clone: [Link]?
        var selfLinks: [Link]?

        enum CodingKeys: String, CodingKey {
            case clone
            case selfLinks = "self"
        }
    }
    struct Link: Decodable {
        var href: String
        var name: String?
    }
    struct Change: Decodable {
        var ref: Ref?
        var refId: String
        var fromHash: String?
        var toHash: String?
        var type: String?
    }
    struct Ref: Decodable {
        var id: String
        var type: String?
    }
}

enum BitbucketPayloadParser {
    static func parseCloud(headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        let event = headers.value("X-Event-Key") ?? ""
        if event.hasSuffix(":ping") { return .ping }
        guard event == "repo:push" else { return .ignored("\(event) events are not acted on") }
        let payload = try PayloadDecoding.decode(BitbucketCloudPushPayload.self, from: body)
        guard let web = payload.repository.links?.html?.href ?? payload.repository.full_name.map({ "https://bitbucket.org/\($0)" }),
            let key = RepositoryKey(url: web)
        else {
            throw MalformedPayload(reason: "payload names no repository")
        }
        let host = key.rawValue.split(separator: "/").first.map(String.init) ?? "bitbucket.org"
        let path = key.rawValue.dropFirst(host.count + 1)
        let repository = ChangeEvent.Repository(
            key: key.rawValue,
            cloneURLs: ["https://\(host)/\(path).git", "git@\(host):\(path).git"],
            webURL: web
        )
        // Bitbucket Cloud sends no file lists; workers diff the trees.
        let pushes = payload.push.changes.compactMap { change -> ParsedPush? in
            guard let state = change.new ?? change.old else { return nil }
            return ParsedPush(
                repository: repository,
                ref: (state.type == "tag" ? "refs/tags/" : "refs/heads/") + state.name,
                before: change.old?.target?.hash,
                after: change.new?.target?.hash,
                created: change.created ?? (change.old == nil),
                deleted: change.closed ?? (change.new == nil),
                forced: change.forced ?? false,
                pusher: payload.actor.flatMap { $0.nickname ?? $0.display_name },
                changedPathHints: nil
            )
        }
        return pushes.isEmpty ? .ignored("push without ref changes") : .pushes(pushes)
    }

    static func parseServer(headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        let event = headers.value("X-Event-Key") ?? ""
        if event == "diagnostics:ping" { return .ping }
        guard event == "repo:refs_changed" else { return .ignored("\(event) events are not acted on") }
        let payload = try PayloadDecoding.decode(BitbucketServerPushPayload.self, from: body)
        let links = payload.repository.links
        let clone = links?.clone ?? []
        let http = clone.first { $0.name == "http" || $0.href.hasPrefix("http") }?.href
        let ssh = clone.first { $0.name == "ssh" || $0.href.hasPrefix("ssh") }?.href
        let web = links?.selfLinks?.first?.href
        // Bitbucket Server URLs differ in shape (`/scm/proj/repo.git`, `:7999/proj/repo.git`,
        // `/projects/PROJ/repos/repo/browse`): the key is host/project/slug.
        guard let anyURL = http ?? ssh ?? web, let hostKey = RepositoryKey(url: anyURL),
            let host = hostKey.rawValue.split(separator: "/").first
        else {
            throw MalformedPayload(reason: "payload names no repository URL")
        }
        let key = "\(host)/\(payload.repository.project.key)/\(payload.repository.slug)".lowercased()
        let repository = ChangeEvent.Repository(key: key, cloneURLs: [http, ssh].compactMap { $0 }, webURL: web)
        let pushes = payload.changes.map { change in
            ParsedPush(
                repository: repository,
                ref: change.ref?.id ?? change.refId,
                before: change.fromHash,
                after: change.toHash,
                created: change.type.map { $0 == "ADD" },
                deleted: change.type.map { $0 == "DELETE" },
                pusher: payload.actor.flatMap { $0.name ?? $0.displayName },
                changedPathHints: nil
            )
        }
        return pushes.isEmpty ? .ignored("push without ref changes") : .pushes(pushes)
    }
}
