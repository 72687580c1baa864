import Foundation
import Testing
import TributaryCore

@Suite("Configuration file")
struct ConfigurationTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func exampleConfigurationDocumentsEveryKeyAndParses() throws {
        let path = Self.packageRoot.appendingPathComponent("config/example.yaml").path
        let configuration = try TributaryConfiguration.load(path: path)
        #expect(configuration.kafka.brokers == .embedded)
        #expect(configuration.kafka.topics.changes == "tributary.changes")
        #expect(configuration.kafka.partitions == 6)
        #expect(configuration.kafka.properties["client.rack"] == .text("local"))
        #expect(configuration.listener.port == 8080)
        #expect(configuration.listener.publishTimeout == .seconds(8))
        #expect(configuration.listener.deduplicationWindow == .seconds(3600))
        #expect(configuration.listener.allowedRepositories == ["github.com/acme/*"])
        #expect(configuration.webhooks.providers["github"]?.secrets == [.environment("GITHUB_WEBHOOK_SECRET"), .environment("GITHUB_WEBHOOK_SECRET_PREVIOUS")])
        #expect(configuration.webhooks.providers["gitlab"]?.signingSecrets == [.environment("GITLAB_SIGNING_SECRET")])
        #expect(configuration.webhooks.providers["gitea"]?.secrets == [.file("/run/secrets/gitea-webhook")])
        #expect(configuration.webhooks.repositories["github.com/acme/payments"]?.secrets == [.environment("PAYMENTS_WEBHOOK_SECRET")])
        #expect(Set(configuration.webhooks.providers.keys) == Set(WebhookSettings.providerNames))
        #expect(configuration.repositories.map(\.url) == ["https://git.example.com/acme/infra.git", "ssh://git@git.example.com/acme/platform.git"])
        #expect(configuration.repository(for: "git@git.example.com:acme/infra.git")?.password == .environment("GIT_TOKEN"))
        let shop = try #require(configuration.app(named: "shop"))
        #expect(shop.project == "platform")
        #expect(shop.source.path == "apps/shop")
        #expect(shop.source.substitute == ["CLUSTER": "prod"])
        #expect(shop.destination.description == "directory:/srv/rendered/shop")
        #expect(shop.syncPolicy.automated?.prune == true)
        #expect(shop.syncPolicy.retry.limit == 5)
        #expect(shop.syncPolicy.interval == .seconds(180))
        #expect(configuration.project(named: "platform")?.sourceRepos.first?.matches("https://git.example.com/acme/infra.git") == true)
        #expect(configuration.project(named: "platform")?.clusterDestinations.first?.allows(name: "prod-us", server: nil, namespace: "payments-prod") == true)
        #expect(configuration.cluster(named: "prod-us")?.server == "https://prod-us.k8s.example.com:6443")
        let payments = try #require(configuration.app(named: "payments"))
        #expect(payments.destination.description == "kubernetes:prod-us/payments-prod")
        #expect(payments.syncPolicy.options.createNamespace)
        #expect(payments.syncPolicy.waitForHealth == .seconds(300))
        #expect(payments.ignoreDifferences.count == 1)
        #expect(payments.source.helm?.valueFiles == ["values-prod.yaml"])
        #expect(configuration.renderer(named: "helm")?.generate == ["/usr/local/bin/helm"])
        let cue = try #require(configuration.renderer(named: "cue"))
        #expect(cue.generate == ["sh", "-c", "cue export --out yaml ./..."] && cue.initialize == ["cue", "mod", "tidy"])
        #expect(cue.timeout == .seconds(120) && cue.maxOutputBytes == 16_777_216 && cue.passEnvironment == ["CUE_REGISTRY"])
        #expect(configuration.mirrors.maxRepositories == 200 && configuration.mirrors.maxBytes == 20 << 30)
        #expect(configuration.server.address.description == "127.0.0.1:8081" && configuration.server.tokens.count == 2)
        #expect(configuration.server.tokens[0].role == .operator && configuration.server.tokens[0].token == .environment("TRIBUTARY_CI_TOKEN"))
        #expect(configuration.server.tokens[1].role == .viewer && configuration.server.tokens[1].projects.first?.matches("any") == true)
    }

    @Test func aSourceIsOneKindAndNamesADeclaredPlugin() {
        let app = "apps:\n  - name: a\n    source: {repoURL: https://h/o/r.git, %@}\n    destination: {directory: /x}\n"
        func parse(_ source: String, prefix: String = "") throws -> TributaryConfiguration {
            try TributaryConfiguration.parse(yaml: prefix + app.replacingOccurrences(of: "%@", with: source), file: "c.yaml")
        }
        let both = #expect(throws: ConfigurationError.self) { try parse("directory: {recurse: true}, helm: {}") }
        #expect(both?.key == "apps[0].source.helm")
        #expect(both?.message == "a source is one of directory, kustomize, helm or plugin; this one has directory and helm")
        let unknown = #expect(throws: ConfigurationError.self) { try parse("plugin: {name: cue}") }
        #expect(unknown?.key == "apps.a.source.plugin.name")
        #expect(unknown?.message == "no plugin named cue in plugins; declared: none")
        let noGenerate = #expect(throws: ConfigurationError.self) { try parse("plugin: {name: cue}", prefix: "plugins: [{name: cue}]\n") }
        #expect(noGenerate?.key == "plugins[0].generate")
        let escaping = #expect(throws: ConfigurationError.self) { try parse("directory: {jsonnet: {libs: [../vendor]}}") }
        #expect(escaping?.key == "apps[0].source.directory.jsonnet.libs")
        let mapParameter = #expect(throws: ConfigurationError.self) { try parse("plugin: {name: cue, parameters: [{name: x, map: {a: b}}]}", prefix: "plugins: [{name: cue, generate: {command: [cue]}}]\n") }
        #expect(mapParameter?.message.contains("only string parameters are supported") == true)
        #expect((try? parse("plugin: {name: cue}", prefix: "plugins: [{name: cue, generate: {command: [cue]}}]\n"))?.app(named: "a")?.source.plugin?.name == "cue")
        // !patterns where they would read backwards are refused by name.
        let tokenDenial = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: "server: {tokens: [{token: {value: t}, projects: ['!prod']}]}\n", file: "c.yaml") }
        #expect(tokenDenial?.key == "server.tokens[0].projects")
        let kindDenial = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "projects: [{name: p, clusterResourceWhitelist: [{group: '', kind: '!Secret'}]}]\n", file: "c.yaml")
        }
        #expect(kindDenial?.message.contains("no !patterns") == true)
    }

    @Test func appErrorsNameTheKey() {
        let unknownProject = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "apps:\n  - name: a\n    project: nope\n    source: {repoURL: https://h/o/r.git}\n    destination: {directory: /x}\n", file: "c.yaml")
        }
        #expect(unknownProject?.message == "no project named nope")
        let twoDestinations = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "apps:\n  - name: a\n    source: {repoURL: https://h/o/r.git}\n    destination: {directory: /x, git: {repoURL: u, branch: b}}\n", file: "c.yaml")
        }
        #expect(twoDestinations?.key == "apps[0].destination")
        #expect(twoDestinations?.line == 4)
        let duplicate = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "apps:\n  - {name: a, source: {repoURL: https://h/o/r.git}, destination: {directory: /x}}\n  - {name: a, source: {repoURL: https://h/o/r.git}, destination: {directory: /y}}\n", file: "c.yaml")
        }
        #expect(duplicate?.line == 3)
        #expect(duplicate?.message.contains("c.yaml:2") == true)
    }

    @Test func shippedDevConfigurationParses() throws {
        let path = Self.packageRoot.appendingPathComponent("config/dev.yaml").path
        let configuration = try TributaryConfiguration.load(path: path)
        #expect(configuration.kafka.brokers == .embedded)
    }

    @Test func unknownKeyIsReportedWithFileLineAndKeyPath() {
        let yaml = """
            kafka:
              brokers: embedded
              partitons: 6
            """
        let error = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: yaml, file: "tributary.yaml") }
        #expect(error?.line == 3)
        #expect(error?.key == "kafka.partitons")
        #expect(error?.description.hasPrefix("tributary.yaml:3: kafka.partitons: unknown key") == true)
    }

    @Test func wrongTypeIsReportedAtTheValuesLine() {
        let yaml = """
            listener:
              address: "127.0.0.1:8080"
              publishTimeout: soon
            kafka:
              partitions: six
            """
        let error = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml") }
        #expect(error?.line == 3)
        #expect(error?.key == "listener.publishTimeout")

        let partitions = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "kafka:\n  partitions: six\n", file: "c.yaml")
        }
        #expect(partitions?.description == "c.yaml:2: kafka.partitions: expected a whole number, got 'six'")
    }

    @Test func outOfRangeValueAndBadAddressAreRejected() throws {
        let range = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: "kafka:\n  partitions: 0\n", file: "c.yaml") }
        #expect(range?.key == "kafka.partitions")
        let address = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: "listener:\n  address: localhost\n", file: "c.yaml") }
        #expect(address?.key == "listener.address")
        #expect(address?.line == 2)
        let size = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: "mirrors:\n  maxSize: 20GB\n", file: "c.yaml") }
        #expect(size?.key == "mirrors.maxSize" && size?.line == 2)
        #expect(try TributaryConfiguration.parse(yaml: "mirrors: { maxSize: 512Mi }\n", file: "c.yaml").mirrors.maxBytes == 512 << 20)
        #expect(try TributaryConfiguration.parse(yaml: "mirrors: { maxSize: 1048576 }\n", file: "c.yaml").mirrors.maxBytes == 1 << 20)
    }

    @Test func invalidYAMLIsReportedWithItsLine() {
        let yaml = "kafka:\n  brokers: embedded\n  partitions: [1, 2\nlistener: {}\n"
        let error = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: yaml, file: "broken.yaml") }
        #expect(error?.file == "broken.yaml")
        #expect(error?.line != nil)
        #expect(error?.message.contains("invalid YAML") == true)
    }

    @Test func malformedSecretReferenceNeverEchoesItsValue() {
        let yaml = """
            webhooks:
              github:
                secrets:
                  - { value: "s3cr3t-value", env: ALSO }
            """
        let error = #expect(throws: ConfigurationError.self) { try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml") }
        #expect(error?.key == "webhooks.github.secrets[0]")
        #expect(error?.line == 4)
        #expect(error?.description.contains("s3cr3t-value") == false)

        let list = #expect(throws: ConfigurationError.self) {
            try TributaryConfiguration.parse(yaml: "webhooks:\n  github:\n    secrets: [ { value: [\"s3cr3t-value\"] } ]\n", file: "c.yaml")
        }
        #expect(list?.description.contains("s3cr3t-value") == false)
    }

    @Test func secretsResolveFromEnvironmentAndFilesAndNameOnlyTheirSource() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-secret-\(UUID().uuidString)")
        try Data("from-file\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try SecretReference.file(file.path).resolve() == "from-file")
        #expect(try SecretReference.environment("HOOK").resolve(environment: ["HOOK": "from-env"]) == "from-env")
        let missing = #expect(throws: SecretError.self) { try SecretReference.environment("NOT_SET_ANYWHERE").resolve(environment: [:]) }
        #expect(missing?.message == "environment variable NOT_SET_ANYWHERE is not set")
        #expect(SecretReference.value("inline-secret").description == "inline value")
    }

    @Test func kafkaPropertiesMayReferToSecrets() throws {
        let yaml = """
            kafka:
              brokers: "kafka-1:9092,kafka-2:9092"
              properties:
                security.protocol: sasl_ssl
                sasl.password: { env: TRIBUTARY_TEST_KAFKA_PASSWORD }
            """
        let configuration = try TributaryConfiguration.parse(yaml: yaml, file: "c.yaml")
        #expect(configuration.kafka.brokers == .list("kafka-1:9092,kafka-2:9092"))
        #expect(configuration.kafka.properties["sasl.password"] == .secret(.environment("TRIBUTARY_TEST_KAFKA_PASSWORD")))
        let error = #expect(throws: SecretError.self) { try configuration.kafka.resolvedProperties() }
        #expect(error?.message.contains("TRIBUTARY_TEST_KAFKA_PASSWORD") == true)
    }

    @Test(arguments: [("500ms", Duration.milliseconds(500)), ("8s", .seconds(8)), ("3m", .seconds(180)), ("1h30m", .seconds(5400)), ("2d", .seconds(172_800))])
    func durationsParse(text: String, expected: Duration) {
        #expect(DurationParser.parse(text) == expected)
    }

    @Test(arguments: ["", "5", "5x", "m", "1h 30"])
    func malformedDurationsAreRejected(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }
}
