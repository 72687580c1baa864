import Synchronization
import TributaryCore

/// The listener's Prometheus metrics, rendered in the text exposition format.
final class ListenerMetrics: Sendable {
    /// Upper bounds of the publish-latency histogram, in seconds.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct State {
        var requests: [RequestLabels: Int] = [:]
        var duplicates = 0
        var latency = PrometheusHistogram(buckets: ListenerMetrics.latencyBuckets)
    }

    struct RequestLabels: Hashable, Comparable {
        var provider: String
        var outcome: String
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.provider, lhs.outcome) < (rhs.provider, rhs.outcome) }
    }

    private let state = Mutex(State())
    private let inFlightCount = Atomic<Int>(0)

    init() {}

    func recordRequest(provider: String, outcome: String) {
        self.state.withLock { $0.requests[RequestLabels(provider: provider, outcome: outcome), default: 0] += 1 }
    }

    func recordDuplicate() {
        self.state.withLock { $0.duplicates += 1 }
    }

    func recordPublishLatency(_ duration: Duration) {
        self.state.withLock { $0.latency.observe(duration.seconds) }
    }

    /// Reserves an in-flight slot unless `limit` are taken.
    func enterFlight(limit: Int) -> Bool {
        let (_, entered) = self.inFlightCount.wrappingAdd(1, ordering: .relaxed)
        if entered > limit {
            self.inFlightCount.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leaveFlight() {
        self.inFlightCount.wrappingSubtract(1, ordering: .relaxed)
    }

    var inFlight: Int { self.inFlightCount.load(ordering: .relaxed) }

    func render() -> String {
        let state = self.state.withLock { $0 }
        var text = """
            # HELP tributary_webhook_requests_total Webhook requests by provider and outcome.
            # TYPE tributary_webhook_requests_total counter

            """
        for (labels, count) in state.requests.sorted(by: { $0.key < $1.key }) {
            text += "tributary_webhook_requests_total{provider=\"\(labels.provider)\",outcome=\"\(labels.outcome)\"} \(count)\n"
        }
        text += """
            # HELP tributary_webhook_duplicates_total Redelivered webhooks answered without publishing.
            # TYPE tributary_webhook_duplicates_total counter
            tributary_webhook_duplicates_total \(state.duplicates)
            # HELP tributary_webhook_in_flight Webhooks waiting for the broker's acknowledgement.
            # TYPE tributary_webhook_in_flight gauge
            tributary_webhook_in_flight \(self.inFlight)
            # HELP tributary_webhook_publish_seconds Time from verified webhook to broker acknowledgement.
            # TYPE tributary_webhook_publish_seconds histogram

            """
        text += state.latency.render(name: "tributary_webhook_publish_seconds")
        return text
    }
}
