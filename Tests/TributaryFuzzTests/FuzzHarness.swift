import Foundation
import HTTPTypes
import TributaryCore
import TributaryKafka
import TributaryKafkaBinding
import TributaryRender
@testable import TributaryWebhooks

/// The fuzz targets: each takes arbitrary bytes and drives one parser the way untrusted input
/// reaches it. A thrown error is a correct answer; a crash, hang or sanitizer report is a bug.
/// `scripts/fuzz` runs them under libFuzzer (with AddressSanitizer); `FuzzRegressionTests` replays
/// the committed corpora and crash reproducers through them on every test run.
public enum FuzzHarness {
    public static let targets: [String: @Sendable ([UInt8]) -> Void] = [
        "webhook": webhook,
        "json-tape": jsonTape,
        "configuration": configuration,
        "render": render,
        "cloudevent": cloudEvent,
    ]

    /// Splits input at NUL bytes into at most `count` parts (the last keeps any further NULs).
    static func parts(_ bytes: [UInt8], _ count: Int) -> [[UInt8]] {
        bytes.split(separator: 0, maxSplits: count - 1, omittingEmptySubsequences: false).map(Array.init)
    }

    static let verifier: WebhookVerifier = {
        let yaml = """
            github: { secrets: [ { value: fuzz-secret } ], allowSHA1: true }
            gitea: { secrets: [ { value: fuzz-secret } ] }
            forgejo: { secrets: [ { value: fuzz-secret } ] }
            bitbucket: { secrets: [ { value: fuzz-secret } ] }
            bitbucket-server: { secrets: [ { value: fuzz-secret } ] }
            gitlab: { tokens: [ { value: fuzz-token } ], signingSecrets: [ { value: "whsec_ZnV6ei1zdGFuZGFyZC1rZXktMDEyMzQ1Njc4OWFi" } ] }
            standard: { secrets: [ { value: "whsec_ZnV6ei1zdGFuZGFyZC1rZXktMDEyMzQ1Njc4OWFi" } ] }
            """
        let configuration = try! TributaryConfiguration.parse(yaml: "webhooks:\n" + yaml.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"), file: "fuzz.yaml")
        return WebhookVerifier(credentials: try! WebhookCredentials(settings: configuration.webhooks), now: { Date(timeIntervalSince1970: 1_800_000_000) })
    }()

    /// First byte: the provider (low 3 bits) and the stage — verification of the raw body with
    /// fuzzed signature headers, or parsing of a body as JSON or as GitHub's form encoding.
    /// The remaining parts (split at NUL): header values, then the body.
    public static func webhook(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let providers = WebhookProvider.allCases
        let provider = providers[Int(first & 7) % providers.count]
        let parts = Self.parts(Array(bytes.dropFirst()), 4)
        func text(_ index: Int) -> String { index < parts.count ? String(decoding: parts[index], as: UTF8.self) : "" }
        let body = parts.last ?? []
        var headers = HTTPFields()
        // Field values that HTTP would not carry are dropped, as the server would refuse them.
        func set(_ name: HTTPField.Name, _ value: String) {
            if HTTPField.isValidValue(value) { headers[name] = value }
        }
        set(.contentType, first & 0x10 == 0 ? "application/json" : "application/x-www-form-urlencoded")
        set(.gitHubEvent, text(0))
        set(.gitlabEvent, text(0))
        set(.eventKey, text(0))
        set(.giteaEvent, text(0))
        switch (first >> 5) & 3 {
        case 0:
            for name in [HTTPField.Name.hubSignature256, .hubSignature, .giteaSignature, .forgejoSignature, .gitlabToken, .webhookSignature] { set(name, text(1)) }
            set(.webhookTimestamp, text(2))
            set(.webhookID, text(2))
            _ = Self.verifier.verify(provider, headers: headers, body: body)
        default:
            let json = first & 0x10 == 0 ? body : (try? WebhookHandler.formPayload(body))
            if let json { _ = try? WebhookHandler.parse(provider, headers: headers, json: json) }
            _ = WebhookHandler.deliveryID(provider, headers)
            _ = WebhookProvider.detect(from: headers)
        }
    }

    /// Parses, then walks every value the way the payload parsers read them.
    public static func jsonTape(_ bytes: [UInt8]) {
        guard let tape = try? JSONTape(parsing: bytes) else { return }
        func walk(_ value: JSONValue, depth: Int) {
            guard depth < 64 else { return }
            _ = try? value.string()
            _ = try? value.int()
            _ = try? value.double()
            _ = try? value.bool()
            for (key, member) in (try? value.members()) ?? [] {
                _ = try? value.member(key)
                walk(member, depth: depth + 1)
            }
            for element in (try? value.elements()) ?? [] { walk(element, depth: depth + 1) }
        }
        walk(JSONValue(root: tape), depth: 0)
    }

    /// A configuration file. `definitions:` entries are dropped: they name files to read.
    public static func configuration(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard !text.contains("definitions") else { return }
        if let configuration = try? TributaryConfiguration.parse(yaml: text, file: "fuzz.yaml") {
            for app in configuration.apps {
                _ = configuration.repository(for: app.source.repoURL)
                _ = configuration.project(named: app.project)
                _ = app.destination.description
            }
        }
    }

    /// An app directory with a kustomization and a manifest, over a base with its own: the parts
    /// (split at NUL) are `app/kustomization.yaml`, `app/deploy.yaml`, `base/kustomization.yaml`
    /// and `base/service.yaml`; an empty part is no file.
    public static func render(_ bytes: [UInt8]) {
        let names = ["app/kustomization.yaml", "app/deploy.yaml", "base/kustomization.yaml", "base/service.yaml"]
        let files = zip(names, Self.parts(bytes, names.count)).filter { !$0.1.isEmpty }.map { SourceFile(path: $0.0, contents: $0.1) }
        _ = try? ManifestRenderer.render(directory: "app", files: files, options: RenderOptions(recurse: true))
    }

    /// A record as consumers read one: `name=value` header lines, NUL, the value; then its payload
    /// decoded as each event type.
    public static func cloudEvent(_ bytes: [UInt8]) {
        let parts = Self.parts(bytes, 2)
        let headers = String(decoding: parts[0], as: UTF8.self).split(separator: "\n").map { line in
            let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return KafkaHeader(key: String(pair[0]), value: pair.count > 1 ? Array(pair[1].utf8) : nil)
        }
        let message = KafkaConsumerMessage(
            topic: "tributary.changes", partition: KafkaPartition(0), offset: KafkaOffset(0), key: nil,
            value: parts.count > 1 ? parts[1] : nil, headers: headers, timestamp: nil
        )
        guard let event = try? CloudEvent(kafkaMessage: message) else { return }
        _ = try? event.decodePayload(as: ChangeEvent.self)
        _ = try? event.decodePayload(as: SyncRequest.self)
        _ = try? event.decodePayload(as: SyncEvent.self)
        _ = try? event.decodePayload(as: NotificationEvent.self)
        _ = try? event.decodePayload(as: AppControl.self)
    }
}
