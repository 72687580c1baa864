import Foundation
import Synchronization
import TributaryCore

/// The worker's Prometheus metrics: syncs by outcome, stage durations, push→applied latency.
public final class WorkerMetrics: Sendable {
    static let stageBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let latencyBuckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct State {
        var syncs: [String: Int] = [:]
        var stages: [String: PrometheusHistogram] = [:]
        var pushToApplied = PrometheusHistogram(buckets: WorkerMetrics.latencyBuckets)
    }

    private let state = Mutex(State())

    public init() {}

    func recordSync(_ event: SyncEvent) {
        self.state.withLock { state in
            state.syncs[event.phase.rawValue, default: 0] += 1
            if let timings = event.timings, event.phase == .succeeded || event.phase == .healed || event.phase == .failed {
                for (stage, milliseconds) in [("fetch", timings.fetchMilliseconds), ("render", timings.renderMilliseconds), ("apply", timings.applyMilliseconds)] {
                    state.stages[stage, default: PrometheusHistogram(buckets: Self.stageBuckets)].observe(milliseconds / 1000)
                }
            }
            if event.phase == .succeeded, let receivedAt = event.receivedAt {
                state.pushToApplied.observe(max(event.finishedAt.timeIntervalSince(receivedAt), 0))
            }
        }
    }

    /// Prometheus text exposition format.
    public func render() -> String {
        let state = self.state.withLock { $0 }
        var text = """
            # HELP tributary_worker_syncs_total Sync events by outcome.
            # TYPE tributary_worker_syncs_total counter

            """
        for phase in SyncEvent.Phase.allCases {
            text += "tributary_worker_syncs_total{outcome=\"\(phase.rawValue)\"} \(state.syncs[phase.rawValue] ?? 0)\n"
        }
        text += """
            # HELP tributary_worker_stage_seconds Time spent per sync stage.
            # TYPE tributary_worker_stage_seconds histogram

            """
        for stage in ["fetch", "render", "apply"] {
            text += (state.stages[stage] ?? PrometheusHistogram(buckets: Self.stageBuckets)).render(name: "tributary_worker_stage_seconds", labels: "stage=\"\(stage)\"")
        }
        text += """
            # HELP tributary_worker_push_to_applied_seconds From the listener receiving a push to the target holding it.
            # TYPE tributary_worker_push_to_applied_seconds histogram

            """
        text += state.pushToApplied.render(name: "tributary_worker_push_to_applied_seconds")
        return text
    }
}
