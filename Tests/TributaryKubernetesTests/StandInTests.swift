import Foundation
import Testing
import TributaryTestSupport

/// The stand-in API server the cluster-target tests use is itself checked against a real client:
/// kubectl must apply --server-side, apply --dry-run=server, diff, scale, edit, get and delete
/// against it as against a cluster; its self-test covers what kubectl does not exercise.
@Suite("Kubernetes API stand-in", .serialized, .timeLimit(.minutes(2)))
struct StandInTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TributaryTestSupport/Fixtures")

    @Test func kubectlWorksAgainstIt() throws {
        let output = try run(["bash", Self.fixtures.appendingPathComponent("kube-apiserver-kubectl-check.sh").path])
        #expect(output.hasSuffix("kubectl check: OK"), "\(output)")
    }

    @Test func itsProtocolSelfTestPasses() throws {
        let output = try run(["python3", Self.fixtures.appendingPathComponent("kube-apiserver-selftest.py").path])
        #expect(output.hasSuffix("OK"), "\(output)")
    }
}
