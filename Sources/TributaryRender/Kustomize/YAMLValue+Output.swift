import Yams

extension YAMLValue {
    /// The resource printed as `kustomize build` prints it: keys in go-yaml v2 order, block style,
    /// strings quoted only where YAML 1.1 would misread them, lines folded at 80 columns.
    func kustomizeYAML() throws -> String {
        try Yams.serialize(node: self.outputNode(OutputTags()), width: 80, allowUnicode: true)
    }

    /// Scalars carry an explicit tag so Yams does not resolve one by regular expression for each
    /// (half the time of printing); the emitter still treats them as implicit and prints no tag.
    /// Made once per resource: each `Tag` would otherwise build its own `Constructor`.
    private struct OutputTags {
        let constructor = Constructor.default
        let map: Tag, seq: Tag, str: Tag, int: Tag, float: Tag, bool: Tag, null: Tag

        init() {
            self.map = Tag(.map, .default, self.constructor)
            self.seq = Tag(.seq, .default, self.constructor)
            self.str = Tag(.str, .default, self.constructor)
            self.int = Tag(.int, .default, self.constructor)
            self.float = Tag(.float, .default, self.constructor)
            self.bool = Tag(.bool, .default, self.constructor)
            self.null = Tag(.null, .default, self.constructor)
        }
    }

    private func outputNode(_ tags: OutputTags) -> Node {
        switch self {
        case .scalar(let scalar):
            return .scalar(Self.outputScalar(scalar, tags))
        case .mapping(let entries):
            let sorted = entries.sorted { YAMLResolver.keyPrecedes($0.key, $1.key) }
            let pairs = sorted.map { (Node.scalar(Self.outputScalar(YAMLScalar(kind: .string, text: $0.key), tags)), $0.value.outputNode(tags)) }
            return .mapping(Node.Mapping(pairs, tags.map, .block))
        case .sequence(let items):
            return .sequence(Node.Sequence(items.map { $0.outputNode(tags) }, tags.seq, .block))
        }
    }

    private static func outputScalar(_ scalar: YAMLScalar, _ tags: OutputTags) -> Node.Scalar {
        switch scalar.kind {
        case .string: break
        case .int: return Node.Scalar(scalar.text, tags.int, .plain)
        case .float: return Node.Scalar(scalar.text, tags.float, .plain)
        case .bool: return Node.Scalar(scalar.text, tags.bool, .plain)
        case .null: return Node.Scalar(scalar.text, tags.null, .plain)
        }
        let style: Node.Scalar.Style
        if scalar.text.contains("\n") {
            style = .literal
        } else if YAMLResolver.printsQuoted(scalar.text) {
            style = .doubleQuoted
        } else {
            style = .plain
        }
        return Node.Scalar(scalar.text, tags.str, style)
    }
}
