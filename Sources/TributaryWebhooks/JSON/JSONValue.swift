/// One value of a parsed payload, read by key or position.
///
/// Payload types read only the fields they need. Errors are `MalformedPayload`s naming the value's
/// path (`repository.clone_url`, `commits[3].added`), never its content. A value is only a position
/// in the tape: the path is worked out from the root when an error needs it, so reading a payload
/// builds no path strings.
struct JSONValue: Sendable {
    let tape: JSONTape
    let index: Int

    /// The document's top-level value.
    init(root tape: JSONTape) {
        self.init(tape: tape, index: 0)
    }

    private init(tape: JSONTape, index: Int) {
        self.tape = tape
        self.index = index
    }

    var kind: JSONTape.Kind { self.tape[self.index].kind }

    /// The member named `key`, or `nil` when it is absent or `null`. Repeated keys: the first counts.
    ///
    /// - Throws: `MalformedPayload` when this value is not an object.
    func member(_ key: String) throws -> JSONValue? {
        guard self.kind == .object else { throw self.wrongType("an object") }
        let end = Int(self.tape[self.index].next)
        var cursor = self.index + 1
        while cursor < end {
            if self.tape.string(at: cursor, equals: key) {
                return self.tape[cursor + 1].kind == .null ? nil : JSONValue(tape: self.tape, index: cursor + 1)
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
            let path = self.path
            throw MalformedPayload(reason: "payload lacks \(path.isEmpty ? key : "\(path).\(key)")")
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
            members.append((try JSONValue(tape: self.tape, index: cursor).string(), JSONValue(tape: self.tape, index: cursor + 1)))
            cursor = Int(self.tape[cursor + 1].next)
        }
        return members
    }

    /// The elements of an array.
    func elements() throws -> [JSONValue] {
        guard self.kind == .array else { throw self.wrongType("an array") }
        var elements: [JSONValue] = []
        elements.reserveCapacity(Int(self.tape[self.index].end))
        self.forEachElementIndex { elements.append(JSONValue(tape: self.tape, index: $0)) }
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

    /// An array of strings.
    func strings() throws -> [String] {
        var strings: [String] = []
        try self.appendStrings(to: &strings)
        return strings
    }

    /// Appends the strings of this array.
    func appendStrings(to strings: inout [String]) throws {
        guard self.kind == .array else { throw self.wrongType("an array") }
        strings.reserveCapacity(strings.count + Int(self.tape[self.index].end))
        try self.forEachElementIndex { strings.append(try JSONValue(tape: self.tape, index: $0).string()) }
    }

    /// Appends the strings of the array member `key`, if there is one.
    func appendStrings(_ key: String, to strings: inout [String]) throws {
        try self.member(key)?.appendStrings(to: &strings)
    }

    /// Required string member.
    func string(_ key: String) throws -> String { try self.required(key).string() }
    func optionalString(_ key: String) throws -> String? { try self.member(key)?.string() }
    func optionalBool(_ key: String) throws -> Bool? { try self.member(key)?.bool() }
    func optionalInt(_ key: String) throws -> Int? { try self.member(key)?.int() }
    func optionalStrings(_ key: String) throws -> [String]? { try self.member(key)?.strings() }

    private func forEachElementIndex(_ body: (Int) throws -> Void) rethrows {
        let end = Int(self.tape[self.index].next)
        var cursor = self.index + 1
        while cursor < end {
            try body(cursor)
            cursor = Int(self.tape[cursor].next)
        }
    }

    private func wrongType(_ expected: String) -> MalformedPayload {
        let path = self.path
        return MalformedPayload(reason: "payload field \(path.isEmpty ? "(the document)" : path) has the wrong type: expected \(expected)")
    }

    /// Where the value sits in the document (`commits[3].added`), found by descending from the root.
    var path: String {
        var path = ""
        var container = 0
        while container != self.index {
            let entry = self.tape[container]
            var cursor = container + 1
            var position = 0
            while cursor < Int(entry.next) {
                // In an object, `cursor` is a key and the value follows it.
                let value = entry.kind == .object ? cursor + 1 : cursor
                if self.index >= value, self.index < Int(self.tape[value].next) {
                    if entry.kind == .object {
                        let key = (try? self.tape.string(at: cursor)) ?? "?"
                        path += path.isEmpty ? key : ".\(key)"
                    } else {
                        path += "[\(position)]"
                    }
                    container = value
                    break
                }
                cursor = Int(self.tape[value].next)
                position += 1
            }
            guard cursor < Int(entry.next) else { break }
        }
        return path
    }
}
