/// Decodes `Decodable` payload types from a `JSONTape`.
///
/// Follows `JSONDecoder`'s conventions — keys as written, `null` or an absent key for `nil`, the same
/// `DecodingError` cases with coding paths — so payload types need not know which decoder runs.
/// Repeated keys: the first one counts.
struct JSONTapeDecoder {
    /// Parses `bytes` and decodes a `Value`.
    ///
    /// - Throws: `JSONSyntaxError` for a document that is not JSON, `DecodingError` for one whose
    ///   shape does not fit `Value`.
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws -> Value {
        try Self.decode(type, from: JSONTape(parsing: bytes))
    }

    /// Decodes a `Value` from an already parsed document (several types can read one tape).
    static func decode<Value: Decodable>(_ type: Value.Type, from tape: JSONTape) throws -> Value {
        try Value(from: TapeDecoder(tape: tape, index: 0, codingPath: []))
    }
}

/// The decoder over one value of the tape.
private struct TapeDecoder: Decoder {
    let tape: JSONTape
    let index: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard self.tape[self.index].kind == .object else {
            throw self.tape.mismatch([String: Any].self, at: self.index, codingPath: self.codingPath)
        }
        return KeyedDecodingContainer(KeyedTapeContainer<Key>(tape: self.tape, index: self.index, codingPath: self.codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard self.tape[self.index].kind == .array else {
            throw self.tape.mismatch([Any].self, at: self.index, codingPath: self.codingPath)
        }
        return UnkeyedTapeContainer(tape: self.tape, index: self.index, codingPath: self.codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueTapeContainer(tape: self.tape, index: self.index, codingPath: self.codingPath)
    }
}

/// A coding-path element for array positions.
private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(self.intValue ?? 0)" }
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

extension JSONTape {
    fileprivate func mismatch(_ type: Any.Type, at index: Int, codingPath: [any CodingKey]) -> DecodingError {
        if self[index].kind == .null {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found null"))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(self[index].kind)"))
    }

    /// Decodes the value at `index`, with fast paths for the scalar types payloads are made of.
    fileprivate func value<Value: Decodable>(_ type: Value.Type, at index: Int, codingPath: @autoclosure () -> [any CodingKey]) throws -> Value {
        if Value.self == String.self { return try self.stringValue(at: index, codingPath: codingPath()) as! Value }
        if Value.self == Bool.self { return try self.boolValue(at: index, codingPath: codingPath()) as! Value }
        if Value.self == Int.self { return try self.integerValue(Int.self, at: index, codingPath: codingPath()) as! Value }
        return try Value(from: TapeDecoder(tape: self, index: index, codingPath: codingPath()))
    }

    fileprivate func stringValue(at index: Int, codingPath: [any CodingKey]) throws -> String {
        switch self[index].kind {
        case .string, .escapedString:
            do {
                return try self.string(at: index)
            } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(error)", underlyingError: error))
            }
        default:
            throw self.mismatch(String.self, at: index, codingPath: codingPath)
        }
    }

    fileprivate func boolValue(at index: Int, codingPath: [any CodingKey]) throws -> Bool {
        switch self[index].kind {
        case .true: return true
        case .false: return false
        default: throw self.mismatch(Bool.self, at: index, codingPath: codingPath)
        }
    }

    /// Integers as `JSONDecoder` reads them: `3` and `3.0` are 3, `3.5` or an overflow is an error.
    fileprivate func integerValue<Integer: FixedWidthInteger>(_ type: Integer.Type, at index: Int, codingPath: [any CodingKey]) throws -> Integer {
        guard self[index].kind == .number else { throw self.mismatch(type, at: index, codingPath: codingPath) }
        let text = self.numberText(at: index)
        if let value = Integer(text) { return value }
        if let double = Double(text), double.rounded() == double, let value = Integer(exactly: double) { return value }
        throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "number \(text) does not fit in \(type)"))
    }

    fileprivate func floatingValue<Floating: BinaryFloatingPoint & LosslessStringConvertible>(
        _ type: Floating.Type,
        at index: Int,
        codingPath: [any CodingKey]
    ) throws -> Floating {
        guard self[index].kind == .number else { throw self.mismatch(type, at: index, codingPath: codingPath) }
        guard let value = Floating(String(self.numberText(at: index))), value.isFinite else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "number does not fit in \(type)"))
        }
        return value
    }
}

private struct KeyedTapeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let tape: JSONTape
    /// The object's entry.
    let index: Int
    let codingPath: [any CodingKey]

    /// The value entry for `key`, or `nil` when the object has no such key.
    private func valueIndex(_ key: Key) -> Int? {
        let end = Int(self.tape[self.index].next)
        var cursor = self.index + 1
        let name = key.stringValue
        while cursor < end {
            if self.tape.string(at: cursor, equals: name) { return cursor + 1 }
            cursor = Int(self.tape[cursor + 1].next)
        }
        return nil
    }

    private func requiredIndex(_ key: Key) throws -> Int {
        guard let index = self.valueIndex(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: self.codingPath, debugDescription: "no value for key \(key.stringValue)"))
        }
        return index
    }

    /// The value entry for `key` unless it is absent or `null`.
    private func presentIndex(_ key: Key) -> Int? {
        guard let index = self.valueIndex(key), self.tape[index].kind != .null else { return nil }
        return index
    }

    var allKeys: [Key] {
        let end = Int(self.tape[self.index].next)
        var keys: [Key] = []
        var cursor = self.index + 1
        while cursor < end {
            if let name = try? self.tape.string(at: cursor), let key = Key(stringValue: name) { keys.append(key) }
            cursor = Int(self.tape[cursor + 1].next)
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { self.valueIndex(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { self.tape[try self.requiredIndex(key)].kind == .null }

    // Every overload goes through these two: a concrete overload calling `decode(type, forKey:)` would call itself.
    private func decodeValue<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try self.tape.value(type, at: try self.requiredIndex(key), codingPath: self.codingPath + [key])
    }

    private func decodeValueIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let index = self.presentIndex(key) else { return nil }
        return try self.tape.value(type, at: index, codingPath: self.codingPath + [key])
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try self.decodeValue(type, forKey: key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try self.decodeValueIfPresent(type, forKey: key) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try self.decodeValue(type, forKey: key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try self.decodeValue(type, forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try self.decodeValue(type, forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try self.decodeValue(type, forKey: key) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try self.decodeValueIfPresent(type, forKey: key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try self.decodeValueIfPresent(type, forKey: key) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try TapeDecoder(tape: self.tape, index: try self.requiredIndex(key), codingPath: self.codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try TapeDecoder(tape: self.tape, index: try self.requiredIndex(key), codingPath: self.codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        TapeDecoder(tape: self.tape, index: self.index, codingPath: self.codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        TapeDecoder(tape: self.tape, index: try self.requiredIndex(key), codingPath: self.codingPath + [key])
    }
}

private struct UnkeyedTapeContainer: UnkeyedDecodingContainer {
    let tape: JSONTape
    let codingPath: [any CodingKey]
    let count: Int?
    private(set) var currentIndex = 0
    /// The entry of the next element.
    private var cursor: Int

    init(tape: JSONTape, index: Int, codingPath: [any CodingKey]) {
        self.tape = tape
        self.codingPath = codingPath
        self.count = Int(tape[index].end)
        self.cursor = index + 1
    }

    var isAtEnd: Bool { self.currentIndex >= self.count! }

    private var elementPath: [any CodingKey] { self.codingPath + [IndexKey(intValue: self.currentIndex)] }

    private mutating func advance() throws -> Int {
        guard !self.isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: self.elementPath, debugDescription: "unkeyed container is at its end"))
        }
        let element = self.cursor
        self.cursor = Int(self.tape[element].next)
        self.currentIndex += 1
        return element
    }

    mutating func decodeNil() throws -> Bool {
        guard !self.isAtEnd, self.tape[self.cursor].kind == .null else { return false }
        _ = try self.advance()
        return true
    }

    private mutating func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        let path = self.elementPath
        return try self.tape.value(type, at: try self.advance(), codingPath: path)
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try self.decodeValue(type) }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try self.decodeValue(type) }
    mutating func decode(_ type: String.Type) throws -> String { try self.decodeValue(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try self.decodeValue(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try self.decodeValue(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try self.decodeValue(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try self.decodeValue(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try self.decodeValue(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try self.decodeValue(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try self.decodeValue(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try self.decodeValue(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try self.decodeValue(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try self.decodeValue(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try self.decodeValue(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try self.decodeValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let path = self.elementPath
        return try TapeDecoder(tape: self.tape, index: try self.advance(), codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let path = self.elementPath
        return try TapeDecoder(tape: self.tape, index: try self.advance(), codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let path = self.elementPath
        return TapeDecoder(tape: self.tape, index: try self.advance(), codingPath: path)
    }
}

private struct SingleValueTapeContainer: SingleValueDecodingContainer {
    let tape: JSONTape
    let index: Int
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { self.tape[self.index].kind == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try self.tape.boolValue(at: self.index, codingPath: self.codingPath) }
    func decode(_ type: String.Type) throws -> String { try self.tape.stringValue(at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try self.tape.floatingValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try self.tape.floatingValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try self.tape.integerValue(type, at: self.index, codingPath: self.codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try self.tape.value(type, at: self.index, codingPath: self.codingPath) }
}
