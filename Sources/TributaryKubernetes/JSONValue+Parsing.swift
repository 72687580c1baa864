/// A JSON parser straight into `JSONValue`. Hand-written for a measured reason: decoding API
/// answers through `JSONDecoder` and `Codable` (a `try?` per alternative at every value) was a
/// quarter of a worker's CPU time in `scripts/bench/cluster-sync`; this is a single pass.
struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    struct Failure: Error, CustomStringConvertible {
        var offset: Int
        var description: String { "not valid JSON (at byte \(self.offset))" }
    }

    static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes))
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw Failure(offset: parser.index) }
        return value
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(self.bytes[self.index]) { self.index += 1 }
    }

    private func fail() -> Failure { Failure(offset: self.index) }

    private mutating func value() throws -> JSONValue {
        guard self.index < self.bytes.count else { throw self.fail() }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return try self.object()
        case UInt8(ascii: "["): return try self.array()
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "t"): try self.literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try self.literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try self.literal("null"); return .null
        default: return try self.number()
        }
    }

    private mutating func literal(_ word: String) throws {
        let expected = Array(word.utf8)
        guard self.index + expected.count <= self.bytes.count, self.bytes[self.index..<self.index + expected.count].elementsEqual(expected) else {
            throw self.fail()
        }
        self.index += expected.count
    }

    private mutating func object() throws -> JSONValue {
        self.depth += 1
        guard self.depth < 512 else { throw self.fail() }
        defer { self.depth -= 1 }
        self.index += 1
        var fields: [String: JSONValue] = [:]
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
            self.index += 1
            return .object(fields)
        }
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else { throw self.fail() }
            let key = try self.string()
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else { throw self.fail() }
            self.index += 1
            self.skipWhitespace()
            fields[key] = try self.value()
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.fail() }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return .object(fields)
            default: throw self.fail()
            }
        }
    }

    private mutating func array() throws -> JSONValue {
        self.depth += 1
        guard self.depth < 512 else { throw self.fail() }
        defer { self.depth -= 1 }
        self.index += 1
        var items: [JSONValue] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
            self.index += 1
            return .array(items)
        }
        while true {
            self.skipWhitespace()
            items.append(try self.value())
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.fail() }
            switch self.bytes[self.index] {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return .array(items)
            default: throw self.fail()
            }
        }
    }

    private mutating func string() throws -> String {
        self.index += 1  // the opening quote
        let start = self.index
        // Fast path: no escapes.
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                defer { self.index += 1 }
                return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw self.fail() }
            self.index += 1
        }
        var scalars = Array(self.bytes[start..<self.index])
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard self.index < self.bytes.count else { throw self.fail() }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try self.hex4()
                    if (0xD800..<0xDC00).contains(code), self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"), self.bytes[self.index + 1] == UInt8(ascii: "u") {
                        self.index += 2
                        let low = try self.hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw self.fail() }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    scalars.append(contentsOf: Array(String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8))
                default: throw self.fail()
                }
            default:
                guard byte >= 0x20 else { throw self.fail() }
                scalars.append(byte)
            }
        }
        throw self.fail()
    }

    private mutating func hex4() throws -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.fail() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw self.fail()
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    /// RFC 8259's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func number() throws -> JSONValue {
        let start = self.index
        func digits() -> Int {
            let first = self.index
            while self.index < self.bytes.count, (0x30...0x39).contains(self.bytes[self.index]) { self.index += 1 }
            return self.index - first
        }
        func next(_ characters: String) -> Bool {
            guard self.index < self.bytes.count, characters.utf8.contains(self.bytes[self.index]) else { return false }
            self.index += 1
            return true
        }
        _ = next("-")
        let integerStart = self.index
        guard digits() > 0, self.bytes[integerStart] != 0x30 || self.index - integerStart == 1 else { throw Failure(offset: start) }
        if next(".") { guard digits() > 0 else { throw self.fail() } }
        if next("eE") {
            _ = next("+-")
            guard digits() > 0 else { throw self.fail() }
        }
        guard let value = Double(String(decoding: self.bytes[start..<self.index], as: UTF8.self)), value.isFinite else { throw Failure(offset: start) }
        return .number(value)
    }
}
