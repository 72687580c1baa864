import Crypto
import Foundation
import TributaryCore

/// What a target owns: every file it wrote, with a content digest, and the source revision.
///
/// Stored in the target itself (`.tributary-inventory`, a name without a manifest extension so
/// `kubectl apply -f DIR` and Argo CD's directory source pass over it), so it moves atomically
/// with the files it describes.
public struct TargetInventory: Codable, Hashable, Sendable {
    public static let fileName = ".tributary-inventory"

    public var app: String
    /// The source commit last applied; absent in git targets, where the commit trailer holds it
    /// (so an unchanged rendering leaves the tree, and the branch, unchanged).
    public var revision: String?
    /// Owned files: path → SHA-256 of the contents, hex.
    public var files: [String: String]

    public init(app: String, revision: String?, files: [String: String]) {
        self.app = app
        self.revision = revision
        self.files = files
    }

    static func digest(_ contents: [UInt8]) -> String {
        SHA256.hash(data: contents).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    func encoded() throws -> [UInt8] {
        // Sorted keys: the same inventory is the same bytes, so git sees no change.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    static func decode(_ bytes: [UInt8], location: String) throws -> TargetInventory {
        do {
            return try JSONDecoder().decode(TargetInventory.self, from: Data(bytes))
        } catch {
            throw SyncError(code: .target, message: "\(location) is not a Tributary inventory: \(error)")
        }
    }
}

/// How a target gets from what it holds to what was rendered; pure, so both targets share it.
struct TargetPlan {
    /// Files to write (new or changed), by path.
    var writing: [String: [UInt8]] = [:]
    /// Owned files to delete.
    var removing: Set<String> = []
    /// The inventory after the apply.
    var inventory: TargetInventory
    var counts = SyncEvent.ResourceCounts()

    /// - Parameters:
    ///   - current: the files the target holds now (owned and foreign), by path.
    ///   - previous: the inventory of the last apply.
    /// - Throws: `SyncError` when a rendered file would replace a file the target does not own.
    init(resources: [RenderedResource], current: [String: [UInt8]], previous: TargetInventory?, context: ApplyContext, keepRevision: Bool) throws {
        let owned = previous?.files ?? [:]
        var files: [String: String] = [:]
        for resource in resources {
            let digest = TargetInventory.digest(resource.contents)
            files[resource.path] = digest
            let existing = current[resource.path]
            if existing != nil && owned[resource.path] == nil {
                throw SyncError(code: .target, message: "\(resource.path) exists in the target and was not written by Tributary; it is left alone and the sync fails")
            }
            switch existing {
            case nil:
                self.writing[resource.path] = resource.contents
                if owned[resource.path] == nil { self.counts.created += 1 } else { self.counts.updated += 1 }
            case let bytes? where bytes == resource.contents:
                self.counts.unchanged += 1
            default:
                self.writing[resource.path] = resource.contents
                self.counts.updated += 1
            }
        }
        for path in owned.keys where files[path] == nil {
            if context.prune {
                if current[path] != nil { self.removing.insert(path) }
                self.counts.pruned += 1
            } else if let bytes = current[path] {
                // Kept and still owned, so turning prune on later removes it. Recorded as it is now:
                // an orphan is no longer rendered, so there is nothing to heal it to.
                files[path] = TargetInventory.digest(bytes)
                self.counts.orphaned += 1
            }
        }
        self.inventory = TargetInventory(app: context.app, revision: keepRevision ? context.revision : nil, files: files)
    }

    /// Whether applying changes nothing but possibly the recorded revision.
    var isNoOp: Bool { self.writing.isEmpty && self.removing.isEmpty }
}

extension TargetInventory {
    /// Owned files whose contents no longer match.
    func drift(in current: [String: [UInt8]]) -> DriftReport {
        var report = DriftReport()
        for (path, digest) in self.files.sorted(by: { $0.key < $1.key }) {
            guard let bytes = current[path] else {
                report.missing.append(path)
                continue
            }
            if TargetInventory.digest(bytes) != digest { report.modified.append(path) }
        }
        return report
    }
}
