/// Flux-style post-build substitution: `${VAR}`, `${VAR:=default}`, and `$${VAR}` for a literal `${VAR}`.
enum Substitution {
    /// Replaces variables in `text`.
    ///
    /// - Throws: `RenderError` naming the line of a variable that has no value and no default, or
    ///   of an unterminated `${`.
    static func apply(_ variables: [String: String], to text: String, file: String) throws -> String {
        guard Self.mayReference(text) else { return text }
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var line = 1
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "\n" { line += 1 }
            if character == "$", text[index...].hasPrefix("$${") {
                // Escaped: emit `${` and copy the rest of the reference untouched.
                output += "${"
                index = text.index(index, offsetBy: 3)
                continue
            }
            if character == "$", text[index...].hasPrefix("${") {
                let start = text.index(index, offsetBy: 2)
                guard let close = text[start...].firstIndex(of: "}") , !text[start..<close].contains("\n") else {
                    throw RenderError(file: file, line: line, message: "unterminated ${ in substitution")
                }
                let reference = text[start..<close]
                let name: Substring
                let fallback: Substring?
                if let separator = reference.range(of: ":=") {
                    name = reference[..<separator.lowerBound]
                    fallback = reference[separator.upperBound...]
                } else {
                    name = reference
                    fallback = nil
                }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw RenderError(file: file, line: line, message: "invalid variable name '\(name)'")
                }
                guard let value = variables[String(name)] ?? fallback.map(String.init) else {
                    throw RenderError(file: file, line: line, message: "variable \(name) has no value and no default")
                }
                output += value
                index = text.index(after: close)
                continue
            }
            output.append(character)
            index = text.index(after: index)
        }
        return output
    }

    /// Whether `text` holds a `${`; a byte scan, much cheaper than `String.contains` on large inputs.
    static func mayReference(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "{") && previous == UInt8(ascii: "$") { return true }
            previous = byte
        }
        return false
    }
}
