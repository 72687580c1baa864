import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TributaryCore

/// A directory holding one file per resource.
///
/// The directory is a symbolic link to a generation directory kept beside it
/// (`.<name>.tributary/<generation>`). A new revision is written into a fresh generation and the
/// link is replaced with `rename(2)`, so readers see the old revision or the new one, never a mix.
/// Files Tributary did not write (not in the inventory) are carried into each new generation
/// untouched.
public struct DirectoryTarget: FileSyncTarget {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var destination: String { "directory:\(self.path)" }

    private var url: URL { URL(fileURLWithPath: self.path) }
    private var stateDirectory: URL {
        self.url.deletingLastPathComponent().appendingPathComponent(".\(self.url.lastPathComponent).tributary")
    }

    public func inventory() async throws -> TargetInventory? {
        try await Self.offPool { try self.readCurrent().inventory }
    }

    func contents() async throws -> (files: [String: [UInt8]], inventory: TargetInventory?) {
        try await Self.offPool {
            let current = try self.readCurrent()
            return (current.files, current.inventory)
        }
    }

    public func drift() async throws -> DriftReport {
        try await Self.offPool {
            let current = try self.readCurrent()
            return current.inventory?.drift(in: current.files) ?? DriftReport()
        }
    }

    public func apply(_ resources: [RenderedResource], context: ApplyContext) async throws -> SyncEvent.ResourceCounts {
        try await Self.offPool { try self.applyBlocking(resources, context: context) }
    }

    private func applyBlocking(_ resources: [RenderedResource], context: ApplyContext) throws -> SyncEvent.ResourceCounts {
        let current = try self.readCurrent()
        let plan = try TargetPlan(resources: resources, current: current.files, previous: current.inventory, context: context, keepRevision: true)
        let inventory = try plan.inventory.encoded()
        if plan.isNoOp, let generation = current.generation {
            if current.inventory != plan.inventory {
                try Self.writeAtomically(inventory, to: generation.appendingPathComponent(TargetInventory.fileName))
            }
            return plan.counts
        }

        let fileManager = FileManager.default
        try fileManager.createDirectory(at: self.stateDirectory, withIntermediateDirectories: true)
        let name = "rev-\(context.revision.prefix(12))-\(UUID().uuidString.prefix(8).lowercased())"
        let generation = self.stateDirectory.appendingPathComponent(name)
        do {
            try fileManager.createDirectory(at: generation, withIntermediateDirectories: false)
            // Files that stay as they are: hard links to the current generation's (already durable)
            // files, written out only where the file system has no links. Rewriting them, each with
            // the fsync Foundation's Data.write makes, was 84–124 of a 100-file app's push→applied.
            for (file, bytes) in current.files where plan.writing[file] == nil && !plan.removing.contains(file) {
                if let old = current.generation, link(old.appendingPathComponent(file).path, generation.appendingPathComponent(file).path) == 0 { continue }
                try Self.write(bytes, to: generation.appendingPathComponent(file))
            }
            for entry in current.otherEntries {
                try fileManager.copyItem(at: entry, to: generation.appendingPathComponent(entry.lastPathComponent))
            }
            for (file, bytes) in plan.writing {
                try Self.write(bytes, to: generation.appendingPathComponent(file))
            }
            try Self.write(inventory, to: generation.appendingPathComponent(TargetInventory.fileName))
            // The generation reaches the disk before the link names it: the files written (fsynced by
            // `write`) and the directory's entries, the linked files' among them.
            try Self.synchronize(directory: generation)
            // The swap: a new link, renamed over the old one (rename is atomic; symlink-over is not).
            let link = self.stateDirectory.appendingPathComponent("link-\(name)")
            try fileManager.createSymbolicLink(atPath: link.path, withDestinationPath: "\(self.stateDirectory.lastPathComponent)/\(name)")
            guard rename(link.path, self.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? fileManager.removeItem(at: link)
                throw SyncError(code: .target, message: "cannot switch \(self.path) to the new revision: \(reason)")
            }
            // And the rename itself, so a crash after the sync event cannot bring the old revision back.
            try Self.synchronize(directory: self.url.deletingLastPathComponent())
        } catch {
            try? fileManager.removeItem(at: generation)
            if let error = error as? SyncError { throw error }
            throw SyncError(code: .target, message: "cannot write \(self.path): \(error.localizedDescription)")
        }
        if let old = current.generation { Self.remove(old, holding: current) }
        return plan.counts
    }

    private struct Current {
        /// The generation the link points at; nil before the first apply.
        var generation: URL?
        /// Regular files, by name (the inventory excluded).
        var files: [String: [UInt8]] = [:]
        /// Anything else someone put there (directories, links): carried over, never read.
        var otherEntries: [URL] = []
        var inventory: TargetInventory?
    }

    private func readCurrent() throws -> Current {
        let fileManager = FileManager.default
        var status = stat()
        guard lstat(self.path, &status) == 0 else {
            guard errno == ENOENT else { throw SyncError(code: .target, message: "cannot read \(self.path): \(String(cString: strerror(errno)))") }
            return Current()
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            // A plain directory: adopt it only when empty, since every file in it would be someone else's.
            guard (try? fileManager.contentsOfDirectory(atPath: self.path))?.isEmpty == true else {
                throw SyncError(code: .target, message: "\(self.path) is a directory Tributary did not create; move it away or choose another destination")
            }
            try fileManager.removeItem(atPath: self.path)
            return Current()
        }
        guard status.st_mode & S_IFMT == S_IFLNK,
              let destination = try? fileManager.destinationOfSymbolicLink(atPath: self.path),
              destination.hasPrefix(self.stateDirectory.lastPathComponent + "/")
        else {
            throw SyncError(code: .target, message: "\(self.path) exists and is not a directory managed by Tributary")
        }
        let generation = self.url.deletingLastPathComponent().appendingPathComponent(destination)
        var current = Current(generation: generation)
        for name in try fileManager.contentsOfDirectory(atPath: generation.path).sorted() {
            let entry = generation.appendingPathComponent(name)
            var entryStatus = stat()
            guard lstat(entry.path, &entryStatus) == 0 else { continue }
            guard entryStatus.st_mode & S_IFMT == S_IFREG else {
                current.otherEntries.append(entry)
                continue
            }
            let bytes = Array(try Data(contentsOf: entry))
            if name == TargetInventory.fileName {
                current.inventory = try TargetInventory.decode(bytes, location: "\(self.path)/\(name)")
            } else {
                current.files[name] = bytes
            }
        }
        return current
    }

    /// Removes a replaced generation. Its files are known, so unlink them and the directory
    /// directly; FileManager's recursive walk cost more than the rest of a small app's apply.
    private static func remove(_ generation: URL, holding current: Current) {
        for name in current.files.keys + [TargetInventory.fileName] {
            _ = unlink(generation.appendingPathComponent(name).path)
        }
        if rmdir(generation.path) != 0 {
            try? FileManager.default.removeItem(at: generation)  // someone else's entries were carried over
        }
    }

    /// Creates `url` (which must not exist) with `bytes`, on disk when it returns.
    private static func write(_ bytes: [UInt8], to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw Self.failure("cannot create", url) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else {
                let error = Self.failure("cannot write", url)
                close(descriptor)
                throw error
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            let error = Self.failure("cannot write", url)
            close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else { throw Self.failure("cannot write", url) }
    }

    /// Puts a directory's entries on disk.
    private static func synchronize(directory: URL) throws {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.failure("cannot open", directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Self.failure("cannot flush", directory) }
    }

    private static func failure(_ what: String, _ url: URL) -> SyncError {
        SyncError(code: .target, message: "\(what) \(url.path): \(String(cString: strerror(errno)))")
    }

    private static func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try Data(bytes).write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw SyncError(code: .target, message: "cannot replace \(url.path): \(String(cString: strerror(errno)))")
        }
    }

    /// File system work is blocking; keep it off the cooperative pool.
    static func offPool<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Swift.Result { try body() }) }
        }
    }
}
