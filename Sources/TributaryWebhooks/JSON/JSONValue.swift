/// One value of a parsed payload, read by key or position.
///
/// Payload types read only the fields they need. Errors are `MalformedPayload`s naming the value's
/// path (`repository.clone_url`, `commits[3].added`), never its content.
struct JSONValue: Sendable {
    let tape: JSONTape
    let index: Int
    /// Where the value sits in the document; empty for the root.
    let path: String

    /// The document's top-level value.
    init(root tape: JSONTape) {
        self.init(tape: tape, index: 0, path: "")
    }

    private init(tape: JSONTape, index: Int, path: String) {
        self.tape = tape
        self.index = index
        self.path = path
    }

    var kind: JSONTape.Kind { self.tape[self.index].kind }

    var isNull: Bool { self.kind == .null }

    /// The member named `key`, or `nil` when it is absent or `null`. Repeated keys: the first counts.
    ///
    /// - Throws: `MalformedPayload` when this value is not an object.
    func member(_ key: String) throws -> JSONValue? {
        guard self.kind == .object else { throw self.wrongType("an object") }
        let end = Int(self.tape[self.index].next)
        var cursor = self.index + 1
        while cursor < end {
            if self.tape.string(at: cursor, equals: key) {
                guard self.tape[cursor + 1].kind != .null else { return nil }
                return JSONValue(tape: self.tape, index: cursor + 1, path: self.path.isEmpty ? key : "\(self.path).\(key)")
            }
            cursor = Int(self.tape[cursor + 1].next)
        }
        return nil
    }

    /// The member named `key`.
    ///
    /// - Throws: `MalformedPayload` when it is absent or `null`, or this value is not an object.
    func required(_ key: String) throws -> JSONValue {
        guard let value = try self.member(key) else {
            throw MalformedPayload(reason: "payload lacks \(self.path.isEmpty ? key : "\(self.path).\(key)")")
        }
        return value
    }

    /// Every member, in document order.
    func members() throws -> [(key: String, value: JSONValue)] {
        guard self.kind == .object else { throw self.wrongType("an object") }
        let end = Int(self.tape[self.index].next)
        var members: [(String, JSONValue)] = []
        var cursor = self.index + 1
        while cursor < end {
            let key = try JSONValue(tape: self.tape, index: cursor, path: self.path).string()
            members.append((key, JSONValue(tape: self.tape, index: cursor + 1, path: self.path.isEmpty ? key : "\(self.path).\(key)")))
            cursor = Int(self.tape[cursor + 1].next)
        }
        return members
    }

    /// The elements of an array.
    func elements() throws -> [JSONValue] {
        guard self.kind == .array else { throw self.wrongType("an array") }
        let end = Int(self.tape[self.index].next)
        var elements: [JSONValue] = []
        elements.reserveCapacity(Int(self.tape[self.index].end))
        var cursor = self.index + 1
        while cursor < end {
            elements.append(JSONValue(tape: self.tape, index: cursor, path: "\(self.path)[\(elements.count)]"))
            cursor = Int(self.tape[cursor].next)
        }
        return elements
    }

    func string() throws -> String {
        guard self.kind == .string || self.kind == .escapedString else { throw self.wrongType("a string") }
        do {
            return try self.tape.string(at: self.index)
        } catch {
            throw MalformedPayload(reason: "payload field \(self.path) is not valid UTF-8")
        }
    }

    func bool() throws -> Bool {
        switch self.kind {
        case .true: return true
        case .false: return false
        default: throw self.wrongType("true or false")
        }
    }

    /// An integer; `3.0` counts as 3, as `JSONDecoder` reads it.
    func int() throws -> Int {
        guard self.kind == .number else { throw self.wrongType("a number") }
        let text = self.tape.numberText(at: self.index)
        if let value = Int(text) { return value }
        guard let double = Double(text), double.rounded() == double, let value = Int(exactly: double) else {
            throw MalformedPayload(reason: "payload field \(self.path) is not an integer")
        }
        return value
    }

    func double() throws -> Double {
        guard self.kind == .number, let value = Double(self.tape.numberText(at: self.index)), value.isFinite else {
            throw self.wrongType("a number")
        }
        return value
    }

    /// Required string member.
    func string(_ key: String) throws -> String { try self.required(key).string() }
    func optionalString(_ key: String) throws -> String? { try self.member(key)?.string() }
    func optionalBool(_ key: String) throws -> Bool? { try self.member(key)?.bool() }
    func optionalInt(_ key: String) throws -> Int? { try self.member(key)?.int() }
    func optionalStrings(_ key: String) throws -> [String]? { try self.member(key)?.elements().map { try $0.string() } }

    private func wrongType(_ expected: String) -> MalformedPayload {
        MalformedPayload(reason: "payload field \(self.path.isEmpty ? "(the document)" : self.path) has the wrong type: expected \(expected)")
    }
}
