/// The name suffix Kustomize gives generated ConfigMaps and Secrets (sigs.k8s.io/kustomize/api/hasher):
/// SHA-256 of a Go `json.Marshal` of `{kind, name, data[, binaryData]}` (Secrets add `type`, and
/// `stringData` when present), first 10 hex digits with `0 1 3 a e` mapped to `g h k m t`.
/// Kustomize looks `metadata/name` up as one literal key and so always hashes an empty name; that
/// quirk is reproduced, or the suffixes would differ from kustomize's.
enum ContentHash {
    static func suffix(for resource: YAMLValue) -> String {
        let kind = resource["kind"]?.text ?? ""
        var fields: [(String, YAMLValue)] = [("kind", .string(kind)), ("name", .string(""))]
        func add(_ key: String, mapOnly: Bool) {
            let value = resource[key]
            if let value, value.entries != nil {
                fields.append((key, value))
            } else if !mapOnly {
                fields.append((key, value.flatMap { $0.isNull ? nil : $0 } ?? .string("")))
            }
        }
        switch kind {
        case "ConfigMap":
            add("data", mapOnly: false)
            add("binaryData", mapOnly: true)
        case "Secret":
            add("data", mapOnly: false)
            add("stringData", mapOnly: true)
            fields.append(("type", .string(resource["type"]?.text ?? "")))
        default:
            // Kustomize hashes other kinds' whole JSON; only ConfigMaps and Secrets are generated here.
            fields.append(("object", resource))
        }
        let object = YAMLValue.mapping(fields.map { YAMLEntry(key: $0.0, value: $0.1) })
        let digest = SHA256.hex(Array(Self.goJSON(object).utf8))
        return String(digest.prefix(10).map { character -> Character in
            switch character {
            case "0": "g"
            case "1": "h"
            case "3": "k"
            case "a": "m"
            case "e": "t"
            default: character
            }
        })
    }

    /// Go `encoding/json` output: map keys in byte order, HTML characters escaped.
    static func goJSON(_ value: YAMLValue) -> String {
        var output = ""
        Self.write(value, to: &output)
        return output
    }

    private static func write(_ value: YAMLValue, to output: inout String) {
        switch value {
        case .scalar(let scalar):
            switch scalar.kind {
            case .string: Self.writeString(scalar.text, to: &output)
            case .int, .float, .bool, .null: output += scalar.text
            }
        case .mapping(let entries):
            output += "{"
            for (index, entry) in entries.sorted(by: { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }).enumerated() {
                if index > 0 { output += "," }
                Self.writeString(entry.key, to: &output)
                output += ":"
                Self.write(entry.value, to: &output)
            }
            output += "}"
        case .sequence(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                Self.write(item, to: &output)
            }
            output += "]"
        }
    }

    private static func writeString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{8}": output += "\\b"
            case "\u{c}": output += "\\f"
            case "<": output += "\\u003c"
            case ">": output += "\\u003e"
            case "&": output += "\\u0026"
            case "\u{2028}": output += "\\u2028"
            case "\u{2029}": output += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}
