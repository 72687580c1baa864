import HTTPTypes
import TributaryCore

/// Bitbucket Cloud's `repo:push` payload.
struct BitbucketCloudPushPayload {
    var changes: [Change]
    var repositoryFullName: String?
    var repositoryWebURL: String?
    var actor: String?

    init(_ json: JSONValue) throws {
        self.changes = try json.required("push").required("changes").elements().map(Change.init)
        let repository = try json.required("repository")
        self.repositoryFullName = try repository.optionalString("full_name")
        self.repositoryWebURL = try repository.member("links")?.member("html")?.string("href")
        let actor = try json.member("actor")
        self.actor = try actor?.optionalString("nickname") ?? actor?.optionalString("display_name")
    }

    struct Change {
        var new: RefState?
        var old: RefState?
        var created: Bool?
        var closed: Bool?
        var forced: Bool?

        init(_ json: JSONValue) throws {
            self.new = try json.member("new").map(RefState.init)
            self.old = try json.member("old").map(RefState.init)
            self.created = try json.optionalBool("created")
            self.closed = try json.optionalBool("closed")
            self.forced = try json.optionalBool("forced")
        }
    }

    struct RefState {
        var type: String
        var name: String
        var hash: String?

        init(_ json: JSONValue) throws {
            self.type = try json.string("type")
            self.name = try json.string("name")
            self.hash = try json.member("target")?.string("hash")
        }
    }
}

/// Bitbucket Server / Data Center `repo:refs_changed` payload.
struct BitbucketServerPushPayload {
    var actor: String?
    var slug: String
    var projectKey: String
    var cloneLinks: [Link]
    var webURL: String?
    var changes: [Change]

    init(_ json: JSONValue) throws {
        let actor = try json.member("actor")
        self.actor = try actor?.optionalString("name") ?? actor?.optionalString("displayName")
        let repository = try json.required("repository")
        self.slug = try repository.string("slug")
        self.projectKey = try repository.required("project").string("key")
        let links = try repository.member("links")
        self.cloneLinks = try links?.member("clone")?.elements().map(Link.init) ?? []
        self.webURL = try links?.member("self")?.elements().first.map(Link.init)?.href
        self.changes = try json.required("changes").elements().map(Change.init)
    }

    struct Link {
        var href: String
        var name: String?

        init(_ json: JSONValue) throws {
            self.href = try json.string("href")
            self.name = try json.optionalString("name")
        }
    }

    struct Change {
        var ref: String
        var fromHash: String?
        var toHash: String?
        var type: String?

        init(_ json: JSONValue) throws {
            self.ref = try json.member("ref")?.string("id") ?? json.string("refId")
            self.fromHash = try json.optionalString("fromHash")
            self.toHash = try json.optionalString("toHash")
            self.type = try json.optionalString("type")
        }
    }
}

enum BitbucketPayloadParser {
    static func parseCloud(headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        let event = headers[.eventKey] ?? ""
        if event.hasSuffix(":ping") { return .ping }
        guard event == "repo:push" else { return .ignored("\(event) events are not acted on") }
        let payload = try BitbucketCloudPushPayload(PayloadDecoding.parse(body))
        guard let web = payload.repositoryWebURL ?? payload.repositoryFullName.map({ "https://bitbucket.org/\($0)" }),
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
        let pushes = payload.changes.compactMap { change -> ParsedPush? in
            guard let state = change.new ?? change.old else { return nil }
            return ParsedPush(
                repository: repository,
                ref: (state.type == "tag" ? "refs/tags/" : "refs/heads/") + state.name,
                before: change.old?.hash,
                after: change.new?.hash,
                created: change.created ?? (change.old == nil),
                deleted: change.closed ?? (change.new == nil),
                forced: change.forced ?? false,
                pusher: payload.actor,
                changedPathHints: nil
            )
        }
        return pushes.isEmpty ? .ignored("push without ref changes") : .pushes(pushes)
    }

    static func parseServer(headers: HTTPFields, body: [UInt8]) throws -> ParsedWebhook {
        let event = headers[.eventKey] ?? ""
        if event == "diagnostics:ping" { return .ping }
        guard event == "repo:refs_changed" else { return .ignored("\(event) events are not acted on") }
        let payload = try BitbucketServerPushPayload(PayloadDecoding.parse(body))
        let clone = payload.cloneLinks
        let http = clone.first { $0.name == "http" || $0.href.hasPrefix("http") }?.href
        let ssh = clone.first { $0.name == "ssh" || $0.href.hasPrefix("ssh") }?.href
        let web = payload.webURL
        // Bitbucket Server URLs differ in shape (`/scm/proj/repo.git`, `:7999/proj/repo.git`,
        // `/projects/PROJ/repos/repo/browse`): the key is host/project/slug.
        guard let anyURL = http ?? ssh ?? web, let hostKey = RepositoryKey(url: anyURL),
            let host = hostKey.rawValue.split(separator: "/").first
        else {
            throw MalformedPayload(reason: "payload names no repository URL")
        }
        let key = "\(host)/\(payload.projectKey)/\(payload.slug)".lowercased()
        let repository = ChangeEvent.Repository(key: key, cloneURLs: [http, ssh].compactMap { $0 }, webURL: web)
        let pushes = payload.changes.map { change in
            ParsedPush(
                repository: repository,
                ref: change.ref,
                before: change.fromHash,
                after: change.toHash,
                created: change.type.map { $0 == "ADD" },
                deleted: change.type.map { $0 == "DELETE" },
                pusher: payload.actor,
                changedPathHints: nil
            )
        }
        return pushes.isEmpty ? .ignored("push without ref changes") : .pushes(pushes)
    }
}
