import Foundation
import TributaryKubernetes

/// What a Kubernetes target owns for an app, kept in the cluster as a ConfigMap
/// (`tributary-inventory-<app>` in the cluster's `inventoryNamespace`), like Flux's
/// `.status.inventory`: every object applied, and the source revision of the last complete sync.
struct ClusterInventory: Hashable, Sendable {
    /// Nil while the first sync is under way.
    var revision: String?
    var objects: [ObjectReference]
}

extension KubernetesTarget {
    var inventoryReference: ObjectReference {
        ObjectReference(apiVersion: "v1", kind: "ConfigMap", namespace: self.inventoryNamespace, name: "tributary-inventory-\(self.app)")
    }

    func readInventory() async throws -> ClusterInventory? {
        let live: JSONValue?
        do {
            live = try await self.client.get(self.inventoryReference)
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "get", self.inventoryReference, source: "inventory")
        }
        guard let live else { return nil }
        guard let text = live[path: "data.objects"]?.string, let objects = try? JSONDecoder().decode([ObjectReference].self, from: Data(text.utf8)) else {
            throw SyncError(code: .target, message: "\(self.inventoryReference) is not a Tributary inventory (data.objects is missing or not a list of objects)")
        }
        return ClusterInventory(revision: live[path: "data.revision"]?.string, objects: objects)
    }

    /// Writes the inventory with server-side apply, creating its namespace the first time.
    func writeInventory(_ objects: Set<ObjectReference>, revision: String?) async throws {
        var data: [String: JSONValue] = ["app": .string(self.app), "objects": .string(String(decoding: JSONValue.references(objects.sorted()).encoded(), as: UTF8.self))]
        if let revision { data["revision"] = .string(revision) }
        let reference = self.inventoryReference
        let configMap: JSONValue = .object([
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": .object([
                "name": .string(reference.name), "namespace": .string(reference.namespace),
                "labels": .object(["app.kubernetes.io/managed-by": "tributary", "tributary.dev/app": .string(self.app)]),
            ]),
            "data": .object(data),
        ])
        do {
            do {
                _ = try await self.client.apply(configMap, fieldManager: KubernetesPlan.fieldManager, force: true)
            } catch let error as KubernetesError where error.code == .notFound {
                let namespace: JSONValue = .object(["apiVersion": "v1", "kind": "Namespace", "metadata": .object(["name": .string(reference.namespace)])])
                _ = try await self.client.apply(namespace, fieldManager: KubernetesPlan.fieldManager, force: true)
                _ = try await self.client.apply(configMap, fieldManager: KubernetesPlan.fieldManager, force: true)
            }
        } catch let error as KubernetesError {
            throw Self.failure(error, doing: "apply", reference, source: "inventory")
        }
    }
}

extension JSONValue {
    static func references(_ references: [ObjectReference]) -> JSONValue {
        .array(references.map { .object(["apiVersion": .string($0.apiVersion), "kind": .string($0.kind), "namespace": .string($0.namespace), "name": .string($0.name)]) })
    }
}
