/// The repository's files by path, with the path arithmetic Kustomize needs: relative references
/// resolved against a directory, symlinks followed, and anything that leaves the repository refused.
struct SourceTree {
    private let files: [String: SourceFile]
    private let directories: Set<String>

    init(_ files: [SourceFile]) {
        self.files = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        var directories: Set<String> = [""]
        for path in self.files.keys {
            var components = path.split(separator: "/").dropLast()
            while !components.isEmpty {
                guard directories.insert(components.joined(separator: "/")).inserted else { break }
                components = components.dropLast()
            }
        }
        self.directories = directories
    }

    enum Entry: Equatable {
        case file(String)
        case directory(String)
        case missing(String)
    }

    /// Resolves `reference` (relative to `directory`, which is already resolved) to a real path.
    ///
    /// - Throws: `RenderError` against `referrer` when the path or a symlink on it leaves the repository.
    func resolve(_ reference: String, from directory: String, referrer: String, line: Int?) throws -> Entry {
        guard !reference.hasPrefix("/") else {
            throw RenderError(file: referrer, line: line, message: "'\(reference)' escapes the repository")
        }
        var resolved: [String] = directory.split(separator: "/").map(String.init)
        var pending = reference.split(separator: "/").map(String.init)
        var hops = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            switch part {
            case ".": continue
            case "..":
                guard !resolved.isEmpty else {
                    throw RenderError(file: referrer, line: line, message: "'\(reference)' escapes the repository")
                }
                resolved.removeLast()
            default:
                resolved.append(part)
                let path = resolved.joined(separator: "/")
                guard let file = self.files[path], file.isSymlink else { continue }
                hops += 1
                let target = String(decoding: file.contents, as: UTF8.self)
                guard hops < 40, !target.hasPrefix("/") else {
                    throw RenderError(file: referrer, line: line, message: "symlink \(path) escapes the repository")
                }
                resolved.removeLast()
                // The target's own `..` parts go through the check above, so a symlink cannot climb out.
                pending = target.split(separator: "/").map(String.init) + pending
            }
        }
        let path = resolved.joined(separator: "/")
        if let file = self.files[path], !file.isSymlink { return .file(path) }
        if self.directories.contains(path) { return .directory(path) }
        return .missing(path)
    }

    /// The bytes of a file, following symlinks.
    func contents(of path: String) throws -> [UInt8] {
        guard case .file(let resolved) = try self.resolve(path, from: "", referrer: path, line: nil) else {
            throw RenderError(file: path, message: "not a file")
        }
        return self.files[resolved]?.contents ?? []
    }

    /// The kustomization file of a resolved directory, if any.
    ///
    /// - Throws: `RenderError` when the directory has more than one.
    func kustomization(in directory: String) throws -> String? {
        var found: [String] = []
        for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
            let path = directory.isEmpty ? name : directory + "/" + name
            if case .file = try self.resolve(name, from: directory, referrer: path, line: nil) { found.append(path) }
        }
        if found.count > 1 {
            throw RenderError(file: found[0], message: "found more than one kustomization file in \(directory.isEmpty ? "." : directory)")
        }
        return found.first
    }
}
