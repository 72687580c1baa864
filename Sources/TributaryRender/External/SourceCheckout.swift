import Foundation

/// An app's repository at a revision, written to a private temporary directory for programs that
/// read a directory (Helm, config-management plugins). Symlinks are written as the files they
/// point to, and only when those are inside the repository.
public struct SourceCheckout: Sendable {
    /// The temporary directory: `repo/` holds the files, `home/` is the programs' HOME, and
    /// other files (Helm's inline values) go beside them.
    public let directory: String
    /// Where the repository's root is.
    public var root: String { self.directory + "/repo" }
    /// The programs' HOME and cache directories.
    public var home: String { self.directory + "/home" }

    /// - Throws: when the temporary directory cannot be written.
    public static func write(_ files: [SourceFile]) throws -> SourceCheckout {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-render-XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw RenderError(file: "", message: "cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        let checkout = SourceCheckout(directory: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        do {
            let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
            try FileManager.default.createDirectory(atPath: checkout.home, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: checkout.root, withIntermediateDirectories: true)
            for file in files {
                // A tree entry named `..` (git fsck refuses them; not every host runs it) must not
                // write outside the checkout.
                guard let relative = ManifestRenderer.repositoryPath("", file.path), !relative.isEmpty, relative == file.path else {
                    throw RenderError(file: file.path, message: "a path outside the repository cannot be checked out")
                }
                guard let resolved = try? ManifestRenderer.resolvingSymlink(file, in: byPath) else { continue }
                let path = checkout.root + "/" + relative
                let parent = (path as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: path, contents: Data(resolved.contents), attributes: [.posixPermissions: file.isExecutable ? 0o700 : 0o600]) else {
                    throw RenderError(file: file.path, message: "cannot write \(path): \(String(cString: strerror(errno)))")
                }
            }
        } catch {
            checkout.remove()
            throw error
        }
        return checkout
    }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}
