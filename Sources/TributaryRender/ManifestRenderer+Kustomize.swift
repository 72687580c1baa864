import Foundation

extension ManifestRenderer {
    /// Builds the kustomization in `directory`, then substitutes variables.
    ///
    /// Substitution runs on each built resource's YAML, not on the input files: Flux applies
    /// post-build substitution to the output of `kustomize build`, so `${VAR}` in a kustomization
    /// file or a patch is not substituted, and a variable may sit in a field that a patch or
    /// generator produced. (For plain directories substituting the files first is the same thing.)
    ///
    /// - Throws: `RenderError` naming the file and, where there is one, the line; a substitution
    ///   error points at the resource's source document.
    static func renderKustomization(directory: String, files: [SourceFile], options: RenderOptions) throws -> [Manifest] {
        let resources = try Kustomizer(files: files).build(directory: directory)
        var manifests: [Manifest] = []
        manifests.reserveCapacity(resources.count)
        for resource in resources {
            let built = try resource.value.kustomizeYAML()
            guard Substitution.mayReference(built) else {
                manifests.append(try Self.manifest(of: resource, yaml: built))
                continue
            }
            let yaml: String
            do {
                yaml = try Substitution.apply(options.substitute, to: built, file: resource.file)
            } catch let error as RenderError {
                throw RenderError(file: resource.file, line: resource.line, message: "\(resource.label): \(error.message)")
            }
            // Substitution may have changed the name, namespace or wave: read them back from the text.
            guard var manifest = try Self.manifests(parsing: yaml, file: resource.file, reserialize: false).first else {
                throw RenderError(file: resource.file, line: resource.line, message: "\(resource.label) is empty after substitution")
            }
            manifest.line = resource.line
            manifests.append(manifest)
        }
        return manifests
    }

    /// The manifest of a resource whose text needed no substitution.
    private static func manifest(of resource: KustomizeResource, yaml: String) throws -> Manifest {
        var wave = 0
        for key in Self.syncWaveAnnotations {
            guard let value = resource.value.value(at: ["metadata", "annotations", key]) else { continue }
            guard let number = value.text.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                throw RenderError(file: resource.file, line: resource.line, message: "\(key) must be a whole number")
            }
            wave = number
        }
        return Manifest(
            apiVersion: resource.apiVersion, kind: resource.kind, namespace: resource.namespace, name: resource.name,
            syncWave: wave, yaml: yaml, file: resource.file, line: resource.line
        )
    }
}
