import Foundation
import Testing
import TributaryRender

@Suite("External renderers' commands", .timeLimit(.minutes(1)))
struct ExternalCommandTests {
    static let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"

    static func command(_ script: String, timeout: Duration = .seconds(30), maxOutputBytes: Int = 1 << 20, environment: [String: String] = [:]) -> ExternalCommand {
        ExternalCommand(
            arguments: ["sh", "-c", script], environment: environment.merging(["PATH": Self.path]) { first, _ in first },
            timeout: timeout, maxOutputBytes: maxOutputBytes, displayName: "plugin test"
        )
    }

    @Test func printsItsOutputFromTheGivenDirectory() async throws {
        let directory = FileManager.default.temporaryDirectory.path
        let output = try await Self.command("pwd; echo \"$GREETING\"", environment: ["GREETING": "hello"]).run(in: directory, reportingAt: "apps/x")
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(URL(fileURLWithPath: lines[0]).resolvingSymlinksInPath() == URL(fileURLWithPath: directory).resolvingSymlinksInPath())
        #expect(lines[1] == "hello")
    }

    @Test func inheritsNothingOfTheWorkersEnvironment() async throws {
        setenv("TRIBUTARY_TEST_WORKER_SECRET", "s3cret-value", 1)
        defer { unsetenv("TRIBUTARY_TEST_WORKER_SECRET") }
        let output = String(decoding: try await Self.command("env").run(in: "/", reportingAt: "apps/x"), as: UTF8.self)
        #expect(!output.contains("s3cret-value"))
        let names = Set(output.split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) })
        #expect(names.isSubset(of: ["PATH", "PWD", "SHLVL", "_"]), "unexpected variables: \(names)")
    }

    @Test func aHangingCommandAndWhatItStartedAreKilledAtTheTimeout() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-hang-\(UUID().uuidString)").path
        // The shell's background child holds stdout open: only killing the group ends the read.
        let command = Self.command("sleep 600 & echo $! > \(marker); wait", timeout: .seconds(1))
        let error = await #expect(throws: RenderError.self) { try await command.run(in: "/", reportingAt: "apps/slow") }
        #expect(error?.file == "apps/slow")
        #expect(error?.message == "plugin test did not finish within 1 s; it was killed")
        let child = try #require(Int32(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try? FileManager.default.removeItem(atPath: marker)
        // Reaped by the test process's parent or gone: either way no longer running as `sleep`.
        let status = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)
        #expect(status == nil || status!.contains(") Z "), "the plugin's child \(child) survived: \(status ?? "")")
    }

    @Test func outputBeyondTheCapFailsTheRun() async throws {
        let command = Self.command("yes manifest", maxOutputBytes: 4096)
        let error = await #expect(throws: RenderError.self) { try await command.run(in: "/", reportingAt: "apps/big") }
        #expect(error?.message.contains("printed more than 4096 bytes") == true)
    }

    @Test func aFailureCarriesTheEndOfStandardError() async throws {
        let command = Self.command("echo 'rendering apps/x' >&2; echo 'Error: template: bad.yaml:3: unexpected }' >&2; exit 3")
        let error = await #expect(throws: RenderError.self) { try await command.run(in: "/", reportingAt: "apps/x") }
        #expect(error?.message == "plugin test exited with status 3: rendering apps/x\nError: template: bad.yaml:3: unexpected }")
    }

    @Test func aMissingProgramIsNamed() async throws {
        let command = ExternalCommand(arguments: ["helm-not-installed-here", "template"], environment: ["PATH": Self.path], timeout: .seconds(5), maxOutputBytes: 1024, displayName: "helm template")
        let error = await #expect(throws: RenderError.self) { try await command.run(in: "/", reportingAt: "charts/shop") }
        #expect(error?.message == "helm template: helm-not-installed-here was not found on PATH")
    }
}
