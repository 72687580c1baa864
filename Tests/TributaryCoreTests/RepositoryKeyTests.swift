import Testing
import TributaryCore

@Suite("Repository keys")
struct RepositoryKeyTests {
    @Test(arguments: [
        "https://github.com/Acme/Infra.git",
        "https://user:token@GitHub.com:443/acme/infra",
        "git@github.com:acme/infra.git",
        "ssh://git@github.com:22/acme/infra.git",
        "git://github.com/acme/infra.git/",
        "github.com/acme/infra",
    ])
    func urlsOfOneRepositoryShareAKey(url: String) {
        #expect(RepositoryKey(url: url)?.rawValue == "github.com/acme/infra")
    }

    @Test func nestedGroupsAndMalformedURLs() {
        #expect(RepositoryKey(url: "https://gitlab.example.com/group/sub/repo.git")?.rawValue == "gitlab.example.com/group/sub/repo")
        #expect(RepositoryKey(url: "git@gitlab.example.com:group/sub/repo.git")?.rawValue == "gitlab.example.com/group/sub/repo")
        #expect(RepositoryKey(url: "https://github.com") == nil)
        #expect(RepositoryKey(url: "") == nil)
    }

    @Test func localRepositoriesAreKeyedByPath() {
        #expect(RepositoryKey(url: "./.tributary/dev/infra.git")?.rawValue == "local/.tributary/dev/infra")
        #expect(RepositoryKey(url: "file:///srv/git/Infra.git/")?.rawValue == "local/srv/git/infra")
        #expect(RepositoryKey(url: "/srv/git/infra")?.rawValue == "local/srv/git/infra")
        #expect(RepositoryKey(url: "file://") == nil)
    }

    @Test func globsMatchWithinAndAcrossSegments() {
        #expect(Glob("github.com/acme/*").matches("github.com/acme/infra"))
        #expect(!Glob("github.com/acme/*").matches("github.com/acme/group/infra"))
        #expect(Glob("github.com/acme/**").matches("github.com/acme/group/infra"))
        #expect(!Glob("github.com/acme/*").matches("github.com/evil/infra"))
        #expect(Glob("gitlab.example.com/team-?/*").matches("gitlab.example.com/team-a/x"))
    }

    @Test func queryAndPortWithoutSchemeAreHandled() {
        #expect(RepositoryKey(url: "https://github.com/acme/infra.git?ref=main")?.rawValue == "github.com/acme/infra")
        #expect(RepositoryKey(url: "git.example.com:8443/acme/infra")?.rawValue == "git.example.com/acme/infra")
        #expect(RepositoryKey(url: "git@git.example.com:acme/infra.git")?.rawValue == "git.example.com/acme/infra")
    }
}
