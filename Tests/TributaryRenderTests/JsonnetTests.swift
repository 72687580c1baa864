import Testing
@testable import TributaryRender

@Suite("Rendering Jsonnet")
struct JsonnetTests {
    static func file(_ path: String, _ text: String) -> SourceFile {
        SourceFile(path: path, contents: Array(text.utf8))
    }

    static let files: [SourceFile] = [
        file("apps/web/main.jsonnet", """
            local naming = import 'naming.libsonnet';
            local shared = import 'labels.libsonnet';
            function(replicas=1) [
              {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                metadata: { name: naming.name('web'), namespace: std.extVar('namespace'), labels: shared.labels },
                spec: { replicas: replicas, template: { spec: { containers: [{ name: 'web', image: 'web:' + std.extVar('tag') }] } } },
              },
              { apiVersion: 'v1', kind: 'Service', metadata: { name: naming.name('web'), namespace: std.extVar('namespace') } },
              { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'types', namespace: 'web' }, data: { yes: 'true', three: '3', empty: '', nothing: 'null' } },
            ]
            """),
        file("apps/web/naming.libsonnet", "{ name(base):: base + '-' + std.extVar('env') }\n"),
        file("lib/labels.libsonnet", "{ labels: { team: 'platform', debug: std.toString(std.extVar('debug')) } }\n"),
        file("apps/web/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: web}\n"),
    ]

    static let options = RenderOptions(jsonnet: JsonnetOptions(
        extVars: [.init(name: "namespace", value: "web"), .init(name: "tag", value: "1.2.3"), .init(name: "env", value: "prod"), .init(name: "debug", value: "1 + 1 == 2", code: true)],
        tlas: [.init(name: "replicas", value: "3", code: true)],
        libs: ["lib"]
    ))

    @Test func evaluatesWithExtVarsTopLevelArgumentsAndLibraries() throws {
        let manifests = try ManifestRenderer.render(directory: "apps/web", files: Self.files, options: Self.options)
        #expect(manifests.map(\.kind) == ["ConfigMap", "ConfigMap", "Service", "Deployment"])
        let types = try #require(manifests.first { $0.name == "types" })
        // Strings that plain YAML would read as other types stay quoted.
        #expect(types.yaml.contains("'yes': 'true'") && types.yaml.contains("three: '3'") && types.yaml.contains("empty: ''") && types.yaml.contains("nothing: 'null'"))
        let deployment = try #require(manifests.last)
        #expect(deployment.name == "web-prod")
        #expect(deployment.namespace == "web")
        #expect(deployment.file == "apps/web/main.jsonnet")
        #expect(deployment.yaml.contains("replicas: 3"))
        #expect(deployment.yaml.contains("image: web:1.2.3"))
        #expect(deployment.yaml.contains("debug: 'true'"))
        #expect(deployment.yaml.contains("team: platform"))
    }

    @Test func aSyntaxErrorNamesFileAndLine() {
        let files = [Self.file("apps/bad/main.jsonnet", "{\n  apiVersion: 'v1',\n  kind: 'ConfigMap'\n  metadata: {},\n}\n")]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "apps/bad", files: files, options: .init()) }
        #expect(error?.file == "apps/bad/main.jsonnet")
        #expect(error?.line == 4)
        #expect(error?.message.hasPrefix("jsonnet: ") == true)
    }

    @Test func aRuntimeErrorNamesTheImportedFileAndLine() {
        let files = [
            Self.file("apps/bad/main.jsonnet", "local lib = import 'lib.libsonnet';\nlib.make('x')\n"),
            Self.file("apps/bad/lib.libsonnet", "{\n  make(name)::\n    error 'no manifest for ' + name,\n}\n"),
        ]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "apps/bad", files: files, options: .init()) }
        #expect(error?.file == "apps/bad/lib.libsonnet")
        #expect(error?.line == 3)
        #expect(error?.message.contains("no manifest for x") == true)
    }

    @Test func aMissingExtVarIsAnError() {
        let files = [Self.file("a/main.jsonnet", "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: std.extVar('name') } }\n")]
        let error = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "a", files: files, options: .init()) }
        #expect(error?.message.contains("name") == true)
        #expect(error?.file == "a/main.jsonnet")
    }

    @Test func importsCannotLeaveTheRepository() {
        let files = [Self.file("main.jsonnet", "import '../../etc/passwd.libsonnet'\n"), Self.file("x.jsonnet", "import '/etc/hosts'\n")]
        #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "", files: [files[0]], options: .init()) }
        let absolute = #expect(throws: RenderError.self) { try ManifestRenderer.render(directory: "", files: [files[1]], options: .init()) }
        #expect(absolute?.message.contains("absolute imports are not allowed") == true)
    }

    @Test func locatesErrorsInLibjsonnetOutput() {
        let runtime = "RUNTIME ERROR: boom\n\tapps/x/lib.libsonnet:(3:5)-(4:2)\tfunction <make>\n\tapps/x/main.jsonnet:2:1-14\t\n"
        let error = JsonnetEvaluator.renderError(from: runtime, evaluating: "apps/x/main.jsonnet")
        #expect(error == RenderError(file: "apps/x/lib.libsonnet", line: 3, message: "jsonnet: boom"))
        let staticError = JsonnetEvaluator.renderError(from: "STATIC ERROR: apps/x/main.jsonnet:4:3-11: expected a comma\n", evaluating: "apps/x/main.jsonnet")
        #expect(staticError == RenderError(file: "apps/x/main.jsonnet", line: 4, message: "jsonnet: expected a comma"))
    }
}
