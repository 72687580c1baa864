import CJsonnet

/// Evaluates a `.jsonnet` file of an app's source with libjsonnet. Imports are read from the
/// app's files in memory — the importing file's directory first, then `libs` — and never from
/// outside the repository.
enum JsonnetEvaluator {
    /// - Returns: the JSON text the file evaluates to.
    /// - Throws: `RenderError` at the file and line libjsonnet names.
    static func evaluate(_ file: SourceFile, files: [String: SourceFile], options: JsonnetOptions) throws -> String {
        let vm = JsonnetVM(files: files, libs: options.libs.map { ManifestRenderer.normalizedPrefix($0) })
        return try vm.evaluate(file, options: options)
    }

    /// The error libjsonnet reports, located at the first `file:line` it names: the static error's
    /// position, or a runtime error's innermost frame.
    ///
    /// libjsonnet writes `STATIC ERROR: path:3:7-8: message` or `RUNTIME ERROR: message` followed
    /// by frames like `\tpath:(3:5)-(4:2)\tfunction <f>`.
    static func renderError(from output: String, evaluating file: String) -> RenderError {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        var message = lines.first ?? "evaluation failed"
        for prefix in ["STATIC ERROR: ", "RUNTIME ERROR: "] where message.hasPrefix(prefix) {
            message = String(message.dropFirst(prefix.count))
        }
        var location: (file: String, line: Int)?
        for line in lines {
            if let found = Self.location(in: line) {
                location = found
                break
            }
        }
        if let location, message.hasPrefix(location.file + ":"),
            let separator = message.dropFirst(location.file.count + 1).range(of: ": ")
        {
            message = String(message[separator.upperBound...])
        }
        return RenderError(file: location?.file ?? file, line: location?.line, message: "jsonnet: \(message)")
    }

    /// `path:3:7…` or `path:(3:5)-(4:2)`, where path ends in `.jsonnet`, `.libsonnet` or `.json`.
    private static func location(in line: String) -> (file: String, line: Int)? {
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            for suffix in [".jsonnet:", ".libsonnet:", ".json:"] {
                guard let range = word.range(of: suffix) else { continue }
                let path = String(word[..<range.upperBound].dropLast())
                let digits = word[range.upperBound...].drop { $0 == "(" }.prefix { $0.isNumber }
                if let number = Int(digits) { return (path, number) }
            }
        }
        return nil
    }
}

/// One libjsonnet VM, used for one evaluation on one thread and destroyed with it.
private final class JsonnetVM {
    let handle: OpaquePointer
    let files: [String: SourceFile]
    let libs: [String]

    init(files: [String: SourceFile], libs: [String]) {
        self.handle = jsonnet_make()
        self.files = files
        self.libs = libs
    }

    deinit { jsonnet_destroy(self.handle) }

    func evaluate(_ file: SourceFile, options: JsonnetOptions) throws -> String {
        for variable in options.extVars {
            if variable.code { jsonnet_ext_code(self.handle, variable.name, variable.value) } else { jsonnet_ext_var(self.handle, variable.name, variable.value) }
        }
        for variable in options.tlas {
            if variable.code { jsonnet_tla_code(self.handle, variable.name, variable.value) } else { jsonnet_tla_var(self.handle, variable.name, variable.value) }
        }
        // The VM calls back synchronously, within jsonnet_evaluate_snippet below: `self` outlives every call.
        jsonnet_import_callback(self.handle, jsonnetImport, Unmanaged.passUnretained(self).toOpaque())
        var failed: Int32 = 0
        let text = String(decoding: file.contents, as: UTF8.self)
        guard let output = jsonnet_evaluate_snippet(self.handle, file.path, text, &failed) else {
            throw RenderError(file: file.path, message: "jsonnet: out of memory")
        }
        let result = String(cString: output)
        _ = jsonnet_realloc(self.handle, output, 0)
        if failed != 0 { throw JsonnetEvaluator.renderError(from: result, evaluating: file.path) }
        return result
    }

    /// The file `relative` names, imported from directory `base`: the path inside the repository
    /// and its text, or why there is none.
    func resolve(base: String, relative: String) -> Result<(path: String, text: String), ImportFailure> {
        guard !relative.hasPrefix("/") else { return .failure(ImportFailure(message: "absolute imports are not allowed: \(relative)")) }
        for directory in [base] + self.libs {
            guard let path = ManifestRenderer.repositoryPath(directory, relative), let file = self.files[path] else { continue }
            guard let resolved = try? ManifestRenderer.resolvingSymlink(file, in: self.files) else {
                return .failure(ImportFailure(message: "\(path) is a symlink that leaves the repository"))
            }
            return .success((path, String(decoding: resolved.contents, as: UTF8.self)))
        }
        return .failure(ImportFailure(message: "couldn't find \(relative) in \(base.isEmpty ? "the repository root" : base)\(self.libs.isEmpty ? "" : " or libs")"))
    }

    struct ImportFailure: Error {
        var message: String
    }

    /// A copy of `text` in memory libjsonnet frees.
    func allocated(_ text: String) -> UnsafeMutablePointer<CChar>? {
        let bytes = Array(text.utf8CString)
        guard let buffer = jsonnet_realloc(self.handle, nil, bytes.count) else { return nil }
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        return buffer
    }
}

private func jsonnetImport(
    context: UnsafeMutableRawPointer?, base: UnsafePointer<CChar>?, relative: UnsafePointer<CChar>?,
    foundHere: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, success: UnsafeMutablePointer<Int32>?
) -> UnsafeMutablePointer<CChar>? {
    guard let context, let base, let relative, let foundHere, let success else { return nil }
    let vm = Unmanaged<JsonnetVM>.fromOpaque(context).takeUnretainedValue()
    switch vm.resolve(base: String(cString: base), relative: String(cString: relative)) {
    case .success(let found):
        foundHere.pointee = vm.allocated(found.path)
        success.pointee = 1
        return vm.allocated(found.text)
    case .failure(let failure):
        success.pointee = 0
        return vm.allocated(failure.message)
    }
}
