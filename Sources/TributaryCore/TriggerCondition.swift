/// A trigger's `when`: comparisons on sync event fields joined by `and` / `or` (`and` binds
/// tighter), for example `attempt >= 2 and app matches "payments-*"`.
///
/// Fields: `app`, `project`, `phase`, `attempt`, `trigger`, `destination`, `repository`, `ref`,
/// `revision`. Operators: `==`, `!=`, `<`, `<=`, `>`, `>=` (numbers for `attempt`), `matches` (a glob).
public struct TriggerCondition: Sendable, CustomStringConvertible {
    public let description: String
    /// Alternatives of conjunctions.
    private let alternatives: [[Comparison]]

    private struct Comparison: Sendable {
        var field: String
        var op: String
        var value: String
    }

    public struct ParseError: Error, Sendable {
        public var message: String
    }

    static let fields: Set<String> = ["app", "project", "phase", "attempt", "trigger", "destination", "repository", "ref", "revision"]
    static let operators = ["==", "!=", "<=", ">=", "<", ">", "matches"]

    public init(_ text: String) throws {
        self.description = text
        let tokens = try Self.tokenize(text)
        var alternatives: [[Comparison]] = [[]]
        var index = 0
        while index < tokens.count {
            guard index + 2 < tokens.count else {
                throw ParseError(message: "incomplete condition near '\(tokens[index...].joined(separator: " "))'; expected FIELD OP VALUE")
            }
            let field = tokens[index]
            let op = tokens[index + 1]
            let value = tokens[index + 2]
            guard Self.fields.contains(field) else {
                throw ParseError(message: "unknown field '\(field)'; fields are \(Self.fields.sorted().joined(separator: ", "))")
            }
            guard Self.operators.contains(op) else {
                throw ParseError(message: "unknown operator '\(op)'; operators are \(Self.operators.joined(separator: " "))")
            }
            if field == "attempt", op != "matches", Int(value) == nil {
                throw ParseError(message: "attempt compares with a whole number, not '\(value)'")
            }
            alternatives[alternatives.count - 1].append(Comparison(field: field, op: op, value: value))
            index += 3
            guard index < tokens.count else { break }
            switch tokens[index].lowercased() {
            case "and", "&&": break
            case "or", "||": alternatives.append([])
            default: throw ParseError(message: "expected 'and' or 'or', found '\(tokens[index])'")
            }
            index += 1
            guard index < tokens.count else { throw ParseError(message: "the condition ends with '\(tokens[index - 1])'") }
        }
        guard !alternatives[0].isEmpty else { throw ParseError(message: "empty condition") }
        self.alternatives = alternatives
    }

    /// Whether the event satisfies the condition.
    public func matches(_ event: SyncEvent) -> Bool {
        self.alternatives.contains { conjunction in
            conjunction.allSatisfy { Self.evaluate($0, event) }
        }
    }

    private static func evaluate(_ comparison: Comparison, _ event: SyncEvent) -> Bool {
        if comparison.field == "attempt", comparison.op != "matches", let number = Int(comparison.value) {
            switch comparison.op {
            case "==": return event.attempt == number
            case "!=": return event.attempt != number
            case "<": return event.attempt < number
            case "<=": return event.attempt <= number
            case ">": return event.attempt > number
            default: return event.attempt >= number
            }
        }
        let actual: String = switch comparison.field {
        case "app": event.app
        case "project": event.project
        case "phase": event.phase.rawValue
        case "attempt": String(event.attempt)
        case "trigger": event.trigger
        case "destination": event.destination
        case "repository": event.repository
        case "ref": event.ref
        default: event.revision
        }
        switch comparison.op {
        case "==": return actual == comparison.value
        case "!=": return actual != comparison.value
        case "matches": return Glob(comparison.value).matches(actual)
        case "<": return actual < comparison.value
        case "<=": return actual <= comparison.value
        case ">": return actual > comparison.value
        default: return actual >= comparison.value
        }
    }

    /// Words, operators and quoted strings.
    private static func tokenize(_ text: String) throws -> [String] {
        var tokens: [String] = []
        var characters = Substring(text)
        while let first = characters.first {
            if first.isWhitespace {
                characters.removeFirst()
            } else if first == "\"" || first == "'" {
                characters.removeFirst()
                guard let end = characters.firstIndex(of: first) else { throw ParseError(message: "unterminated string in '\(text)'") }
                tokens.append(String(characters[..<end]))
                characters = characters[characters.index(after: end)...]
            } else if let op = ["==", "!=", "<=", ">=", "&&", "||", "<", ">"].first(where: { characters.hasPrefix($0) }) {
                tokens.append(op)
                characters.removeFirst(op.count)
            } else {
                let word = characters.prefix { !$0.isWhitespace && !"=!<>&|\"'".contains($0) }
                guard !word.isEmpty else { throw ParseError(message: "unexpected '\(first)' in '\(text)'") }
                tokens.append(String(word))
                characters.removeFirst(word.count)
            }
        }
        return tokens
    }
}
