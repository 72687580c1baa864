import Foundation
import Testing

/// Every committed corpus input and crash reproducer of every fuzz target, run through the target
/// as `scripts/fuzz` runs it (here without libFuzzer or sanitizers): none may crash or hang.
@Suite("Fuzz corpora and crash reproducers", .timeLimit(.minutes(5)))
struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ kind: String, _ target: String) -> [URL] {
        let directory = Self.root.appendingPathComponent(kind).appendingPathComponent(target)
        return ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []).sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzHarness.targets.keys.sorted())
    func everyCommittedInputRunsCleanly(target: String) throws {
        let corpus = Self.inputs("corpus", target)
        #expect(corpus.count >= 10, "a corpus is committed for \(target)")
        let run = try #require(FuzzHarness.targets[target])
        for input in corpus + Self.inputs("crashes", target) {
            run(Array(try Data(contentsOf: input)))
        }
    }
}
