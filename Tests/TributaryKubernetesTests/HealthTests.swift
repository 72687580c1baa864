import Foundation
import Testing
import TributaryKubernetes

@Suite("Health assessment")
struct HealthTests {
    func object(_ json: String) throws -> JSONValue { try JSONValue(json: Array(json.utf8)) }

    @Test func deploymentProgressesUntilItsRolloutIsObservedAndAvailable() throws {
        let created = try self.object(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":1},"spec":{"replicas":2}}"#)
        #expect(Health.assess(created).status == .progressing)
        let rolling = try self.object(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"availableReplicas":1}}"#)
        #expect(Health.assess(rolling) == HealthAssessment(.progressing, "waiting for the rollout: 1 of 2 updated replicas available"))
        let done = try self.object(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"availableReplicas":2}}"#)
        #expect(Health.assess(done).status == .healthy)
        let stale = try self.object(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":2},"spec":{"replicas":2},"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"availableReplicas":2}}"#)
        #expect(Health.assess(stale).status == .progressing)
    }

    @Test func progressDeadlineExceededIsDegradedAndPausedIsSuspended() throws {
        let stuck = try self.object(
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","generation":1},"spec":{"replicas":1},"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,"availableReplicas":0,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet \"web-1\" has timed out progressing."}]}}"#
        )
        #expect(Health.assess(stuck) == HealthAssessment(.degraded, "ReplicaSet \"web-1\" has timed out progressing."))
        let paused = try self.object(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"paused":true}}"#)
        #expect(Health.assess(paused).status == .suspended)
    }

    @Test func otherKinds() throws {
        #expect(Health.assess(nil).status == .missing)
        #expect(Health.assess(try self.object(#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Failed","status":"True","message":"BackoffLimitExceeded"}]}}"#)).status == .degraded)
        #expect(Health.assess(try self.object(#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"status":{"conditions":[{"type":"Complete","status":"True"}]}}"#)).status == .healthy)
        #expect(Health.assess(try self.object(#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"p"},"status":{"phase":"Pending"}}"#)).status == .progressing)
        #expect(Health.assess(try self.object(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer"}}"#)).status == .progressing)
        #expect(Health.assess(try self.object(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer"},"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.1"}]}}}"#)).status == .healthy)
        #expect(Health.assess(try self.object(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#)).status == .healthy)
        #expect(Health.assess(try self.object(#"{"apiVersion":"example.com/v1","kind":"Database","metadata":{"name":"d"},"status":{"conditions":[{"type":"Ready","status":"False","message":"issuing"}]}}"#)) == HealthAssessment(.progressing, "issuing"))
        #expect(Health.assess(try self.object(#"{"apiVersion":"example.com/v1","kind":"Database","metadata":{"name":"d"},"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Stalled","status":"True","message":"no quorum"}]}}"#)) == HealthAssessment(.degraded, "no quorum"))
        #expect(Health.assess(try self.object(#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s","generation":1},"spec":{"replicas":3},"status":{"observedGeneration":1,"readyReplicas":2}}"#)).status == .progressing)
        #expect(Health.assess(try self.object(#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"d","generation":1},"status":{"observedGeneration":1,"desiredNumberScheduled":3,"updatedNumberScheduled":3,"numberAvailable":3}}"#)).status == .healthy)
    }

    @Test func anAppIsAsHealthyAsItsWorstObjectInGitopsEnginesOrder() {
        #expect(HealthStatus.allCases == [.healthy, .suspended, .progressing, .missing, .degraded, .unknown])
        let web = ObjectReference(apiVersion: "apps/v1", kind: "Deployment", namespace: "demo", name: "web")
        let settings = ObjectReference(apiVersion: "v1", kind: "ConfigMap", namespace: "demo", name: "settings")
        let worst = Health.worst([(settings, HealthAssessment(.missing, "the object does not exist")), (web, HealthAssessment(.progressing, "rolling"))])
        #expect(worst == HealthAssessment(.missing, "ConfigMap demo/settings: the object does not exist"))
        #expect(Health.worst([(web, HealthAssessment(.healthy))]) == HealthAssessment(.healthy))
    }
}

@Suite("Field diff")
struct FieldDiffTests {
    @Test func namesChangedFieldsWithoutValuesAndSkipsServerMetadataAndStatus() throws {
        let live = try JSONValue(json: Array(#"{"metadata":{"name":"web","resourceVersion":"7","managedFields":[1]},"spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"web","image":"nginx:1"},{"name":"side","image":"x"}]}}},"status":{"replicas":5}}"#.utf8))
        let applied = try JSONValue(json: Array(#"{"metadata":{"name":"web","resourceVersion":"8","managedFields":[2]},"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"side","image":"x"},{"name":"web","image":"nginx:2"}]}}},"status":{"replicas":2}}"#.utf8))
        #expect(FieldDiff.paths(from: live, to: applied) == [".spec.replicas", ".spec.template.spec.containers[name=web].image"])
        #expect(FieldDiff.paths(from: live, to: live).isEmpty)
    }

    @Test func secretValuesNeverAppear() throws {
        let live = try JSONValue(json: Array(#"{"kind":"Secret","data":{"password":"c2VjcmV0LTE="}}"#.utf8))
        let applied = try JSONValue(json: Array(#"{"kind":"Secret","data":{"password":"c2VjcmV0LTI="}}"#.utf8))
        let paths = FieldDiff.paths(from: live, to: applied)
        #expect(paths == [".data.password"])
        #expect(!paths.joined().contains("c2Vj"))
    }
}

@Suite("JSON values")
struct JSONValueTests {
    @Test func roundTripsAndKeepsIntegersIntegral() throws {
        let text = #"{"a":[1,2.5,true,null,"x\"y\n"],"b":{"c":3}}"#
        let value = try JSONValue(json: Array(text.utf8))
        #expect(String(decoding: value.encoded(), as: UTF8.self) == text)
        #expect(value[path: "b.c"]?.int == 3)
        #expect(JSONValue(any: ["n": 1, "s": "t", "l": [true]] as [String: Any]) == .object(["n": .number(1), "s": .string("t"), "l": .array([.bool(true)])]))
    }
}

@Suite("JSON parsing")
struct JSONParsingTests {
    @Test func parsesWhatTheAPIAnswersIncludingEscapesAndSurrogates() throws {
        let text = #" { "s": "a\"b\\c\/d\n\u00e9\ud83d\ude00", "n": -1.5e2, "i": 42, "l": [ ], "o": { }, "t": true, "f": false, "z": null } "#
        let value = try JSONValue(json: Array(text.utf8))
        #expect(value["s"] == .string("a\"b\\c/d\né😀"))
        #expect(value["n"] == .number(-150))
        #expect(value["i"]?.int == 42)
        #expect(value["l"] == .array([]))
        #expect(value["o"] == .object([:]))
        #expect(value["t"] == .bool(true) && value["f"] == .bool(false) && value["z"] == .null)
        #expect(try JSONValue(json: value.encoded()) == value)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2", "{\"a\":1,}", "\"\u{01}\"", "+1", "01", "1.", "-", "1e", "1e400"])
    func rejectsMalformedJSON(text: String) {
        #expect(throws: (any Error).self) { try JSONValue(json: Array(text.utf8)) }
    }
}
