/// An object's or an app's health, in gitops-engine's order: an app is as healthy as its least
/// healthy object (Healthy < Suspended < Progressing < Missing < Degraded < Unknown).
public enum HealthStatus: String, Codable, Hashable, Sendable, Comparable, CaseIterable {
    case healthy = "Healthy"
    case suspended = "Suspended"
    case progressing = "Progressing"
    case missing = "Missing"
    case degraded = "Degraded"
    case unknown = "Unknown"

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (lhs: HealthStatus, rhs: HealthStatus) -> Bool { lhs.rank < rhs.rank }
}

/// A health and why.
public struct HealthAssessment: Hashable, Sendable {
    public var status: HealthStatus
    public var message: String?

    public init(_ status: HealthStatus, _ message: String? = nil) {
        self.status = status
        self.message = message
    }
}

/// Health checks for the built-in kinds that have a rollout or a phase, following gitops-engine's
/// `pkg/health` (Deployment, StatefulSet, DaemonSet, Job, PersistentVolumeClaim, Service, Pod),
/// and a generic `status.conditions[type=Ready]` for everything else. Pure: tested on objects.
public enum Health {
    /// The health of a live object; nil: missing.
    public static func assess(_ object: JSONValue?) -> HealthAssessment {
        guard let object else { return HealthAssessment(.missing, "the object does not exist") }
        let group = ObjectReference(of: object)?.group ?? ""
        switch (group, object["kind"]?.string ?? "") {
        case ("apps", "Deployment"): return self.deployment(object)
        case ("apps", "StatefulSet"): return self.statefulSet(object)
        case ("apps", "DaemonSet"): return self.daemonSet(object)
        case ("batch", "Job"): return self.job(object)
        case ("", "PersistentVolumeClaim"): return self.persistentVolumeClaim(object)
        case ("", "Service"): return self.service(object)
        case ("", "Pod"): return self.pod(object)
        default: return self.readyCondition(object)
        }
    }

    /// The app's health: its worst object's, with that object's message.
    public static func worst(_ assessments: [(ObjectReference, HealthAssessment)]) -> HealthAssessment {
        guard let worst = assessments.max(by: { $0.1.status < $1.1.status }) else { return HealthAssessment(.healthy) }
        guard worst.1.status != .healthy else { return HealthAssessment(.healthy) }
        return HealthAssessment(worst.1.status, "\(worst.0): \(worst.1.message ?? worst.1.status.rawValue)")
    }

    private static func rolloutObserved(_ object: JSONValue) -> Bool {
        let observed = object[path: "status.observedGeneration"]?.int ?? 0
        return observed > 0 && observed >= (object[path: "metadata.generation"]?.int ?? 0)
    }

    private static func condition(_ object: JSONValue, _ type: String) -> JSONValue? {
        object[path: "status.conditions"]?.array?.first { $0["type"]?.string == type }
    }

    static func deployment(_ object: JSONValue) -> HealthAssessment {
        if object[path: "spec.paused"]?.bool == true { return HealthAssessment(.suspended, "the deployment is paused") }
        guard self.rolloutObserved(object) else {
            return HealthAssessment(.progressing, "waiting for the rollout: the observed generation is behind the desired one")
        }
        if let progressing = self.condition(object, "Progressing"), progressing["reason"]?.string == "ProgressDeadlineExceeded" {
            return HealthAssessment(.degraded, progressing["message"]?.string ?? "the deployment exceeded its progress deadline")
        }
        let desired = object[path: "spec.replicas"]?.int ?? 1
        let updated = object[path: "status.updatedReplicas"]?.int ?? 0
        let replicas = object[path: "status.replicas"]?.int ?? 0
        let available = object[path: "status.availableReplicas"]?.int ?? 0
        if updated < desired { return HealthAssessment(.progressing, "waiting for the rollout: \(updated) of \(desired) replicas updated") }
        if replicas > updated { return HealthAssessment(.progressing, "waiting for the rollout: \(replicas - updated) old replicas pending termination") }
        if available < updated { return HealthAssessment(.progressing, "waiting for the rollout: \(available) of \(updated) updated replicas available") }
        return HealthAssessment(.healthy)
    }

    static func statefulSet(_ object: JSONValue) -> HealthAssessment {
        guard self.rolloutObserved(object) else {
            return HealthAssessment(.progressing, "waiting for the statefulset spec update to be observed")
        }
        let desired = object[path: "spec.replicas"]?.int ?? 1
        let ready = object[path: "status.readyReplicas"]?.int ?? 0
        if ready < desired { return HealthAssessment(.progressing, "waiting for \(desired) pods to be ready, \(ready) are") }
        if object[path: "spec.updateStrategy.type"]?.string == "OnDelete" { return HealthAssessment(.healthy) }
        let partition = object[path: "spec.updateStrategy.rollingUpdate.partition"]?.int ?? 0
        let updated = object[path: "status.updatedReplicas"]?.int ?? 0
        if partition > 0 {
            return updated < desired - partition ? HealthAssessment(.progressing, "waiting for the partitioned rollout: \(updated) of \(desired - partition) updated") : HealthAssessment(.healthy)
        }
        if let update = object[path: "status.updateRevision"]?.string, update != object[path: "status.currentRevision"]?.string {
            return HealthAssessment(.progressing, "waiting for the rollout: \(updated) of \(desired) pods updated")
        }
        return HealthAssessment(.healthy)
    }

    static func daemonSet(_ object: JSONValue) -> HealthAssessment {
        guard self.rolloutObserved(object) else {
            return HealthAssessment(.progressing, "waiting for the daemonset spec update to be observed")
        }
        if object[path: "spec.updateStrategy.type"]?.string == "OnDelete" { return HealthAssessment(.healthy) }
        let desired = object[path: "status.desiredNumberScheduled"]?.int ?? 0
        let updated = object[path: "status.updatedNumberScheduled"]?.int ?? 0
        let available = object[path: "status.numberAvailable"]?.int ?? 0
        if updated < desired { return HealthAssessment(.progressing, "waiting for the rollout: \(updated) of \(desired) pods updated") }
        if available < desired { return HealthAssessment(.progressing, "waiting for the rollout: \(available) of \(desired) pods available") }
        return HealthAssessment(.healthy)
    }

    static func job(_ object: JSONValue) -> HealthAssessment {
        for condition in object[path: "status.conditions"]?.array ?? [] where condition["status"]?.string == "True" {
            switch condition["type"]?.string {
            case "Failed": return HealthAssessment(.degraded, condition["message"]?.string ?? "the job failed")
            case "Complete": return HealthAssessment(.healthy, condition["message"]?.string)
            default: continue
            }
        }
        if object[path: "spec.suspend"]?.bool == true { return HealthAssessment(.suspended, "the job is suspended") }
        return HealthAssessment(.progressing, "the job is running")
    }

    static func persistentVolumeClaim(_ object: JSONValue) -> HealthAssessment {
        switch object[path: "status.phase"]?.string {
        case "Bound": HealthAssessment(.healthy)
        case "Pending": HealthAssessment(.progressing, "the claim is pending")
        case "Lost": HealthAssessment(.degraded, "the claim lost its volume")
        default: HealthAssessment(.unknown, "the claim has no phase")
        }
    }

    static func service(_ object: JSONValue) -> HealthAssessment {
        guard object[path: "spec.type"]?.string == "LoadBalancer" else { return HealthAssessment(.healthy) }
        if let ingress = object[path: "status.loadBalancer.ingress"]?.array, !ingress.isEmpty { return HealthAssessment(.healthy) }
        return HealthAssessment(.progressing, "waiting for the load balancer's address")
    }

    static func pod(_ object: JSONValue) -> HealthAssessment {
        switch object[path: "status.phase"]?.string {
        case "Succeeded": return HealthAssessment(.healthy)
        case "Failed": return HealthAssessment(.degraded, object[path: "status.message"]?.string ?? "the pod failed")
        case "Running":
            return self.condition(object, "Ready")?["status"]?.string == "True" ? HealthAssessment(.healthy) : HealthAssessment(.progressing, "the pod is not ready")
        default: return HealthAssessment(.progressing, "the pod is pending")
        }
    }

    /// Kinds without a check of their own: `Ready` if they report it, else healthy once they exist.
    /// `Ready=False` is Progressing — cert-manager and Crossplane resources start that way — unless
    /// the object reports `Stalled=True` (kstatus's convention, as Flux reads it).
    static func readyCondition(_ object: JSONValue) -> HealthAssessment {
        if let stalled = self.condition(object, "Stalled"), stalled["status"]?.string == "True" {
            return HealthAssessment(.degraded, stalled["message"]?.string ?? "stalled")
        }
        guard let ready = self.condition(object, "Ready") else { return HealthAssessment(.healthy) }
        switch ready["status"]?.string {
        case "True": return HealthAssessment(.healthy)
        default: return HealthAssessment(.progressing, ready["message"]?.string ?? "not ready")
        }
    }
}
