/// A Prometheus histogram's counts, rendered in the text exposition format.
public struct PrometheusHistogram: Sendable {
    /// Upper bounds, in seconds.
    public let buckets: [Double]
    private var counts: [Int]
    private var sum = 0.0
    private var count = 0

    public init(buckets: [Double]) {
        self.buckets = buckets
        self.counts = [Int](repeating: 0, count: buckets.count)
    }

    public mutating func observe(_ seconds: Double) {
        if let bucket = self.buckets.firstIndex(where: { seconds <= $0 }) { self.counts[bucket] += 1 }
        self.sum += seconds
        self.count += 1
    }

    /// The `_bucket`, `_sum` and `_count` lines; `labels` like `stage="fetch"` (or empty).
    public func render(name: String, labels: String = "") -> String {
        let prefix = labels.isEmpty ? "" : labels + ","
        let suffix = labels.isEmpty ? "" : "{\(labels)}"
        var text = ""
        var cumulative = 0
        for (index, bound) in self.buckets.enumerated() {
            cumulative += self.counts[index]
            text += "\(name)_bucket{\(prefix)le=\"\(bound)\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(self.count)\n"
        text += "\(name)_sum\(suffix) \(self.sum)\n"
        text += "\(name)_count\(suffix) \(self.count)\n"
        return text
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
