import Foundation
import CFuzzDriver  // links tributary_fuzz_main, which starts libFuzzer
import TributaryFuzzHarness

/// The target named by TRIBUTARY_FUZZ_TARGET, looked up on the first input.
nonisolated(unsafe) private var selected: (@Sendable ([UInt8]) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if selected == nil {
        let name = ProcessInfo.processInfo.environment["TRIBUTARY_FUZZ_TARGET"] ?? ""
        guard let target = FuzzHarness.targets[name] else {
            fatalError("TRIBUTARY_FUZZ_TARGET must be one of \(FuzzHarness.targets.keys.sorted().joined(separator: ", ")); got '\(name)'")
        }
        selected = target
    }
    selected!(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
