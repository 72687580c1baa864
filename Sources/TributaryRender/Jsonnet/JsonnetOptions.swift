/// `directory.jsonnet`, as in Argo CD's Application: how `.jsonnet` files are evaluated.
public struct JsonnetOptions: Hashable, Sendable {
    /// An external variable or top-level argument: a string, or Jsonnet code when `code` is true.
    public struct Variable: Hashable, Sendable {
        public var name: String
        public var value: String
        public var code: Bool

        public init(name: String, value: String, code: Bool = false) {
            self.name = name
            self.value = value
            self.code = code
        }
    }

    /// `extVars`: read with `std.extVar(name)`. Default none.
    public var extVars: [Variable] = []
    /// `tlas`: arguments of a file that evaluates to a function. Default none.
    public var tlas: [Variable] = []
    /// `libs`: directories from the repository root searched for imports after the importing
    /// file's own directory. Default none.
    public var libs: [String] = []

    public init(extVars: [Variable] = [], tlas: [Variable] = [], libs: [String] = []) {
        self.extVars = extVars
        self.tlas = tlas
        self.libs = libs
    }
}
