#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON document (RFC 8259) recorded as a flat tape of entries that point into the original bytes.
/// The syntax is checked in full when the tape is built; a string's UTF-8 when it is read.
///
/// Webhook payloads are parsed on the listener's hot path, and Foundation's `JSONDecoder` spent more
/// time on a 7 KB GitHub push than everything else a request does. The tape is built in one pass;
/// strings and numbers stay as byte ranges until a payload type asks for them, and values nobody asks
/// for (commit messages, authors, ...) are never turned into Swift values. Read it through `JSONValue`.
final class JSONTape: Sendable {
    enum Kind: UInt8, Sendable {
        case object, array, string, escapedString, number, `true`, `false`, null
    }

    /// One value. Containers are followed by their children (an object's as key, value, key, value);
    /// `next` is the index of the entry after the value and everything inside it.
    struct Entry: Sendable {
        var kind: Kind
        /// Strings: the bytes between the quotes. Numbers: the number's bytes. Containers: `start` is
        /// the offset of the bracket and `end` the number of elements.
        var start: Int32
        var end: Int32
        var next: Int32
    }

    /// Deeper nesting than this is refused rather than risking the stack.
    static let maximumDepth = 512

    let bytes: [UInt8]
    let entries: [Entry]

    /// Parses `bytes` as one JSON value surrounded by optional whitespace.
    ///
    /// - Throws: `JSONSyntaxError` with the byte offset of the first problem.
    init(parsing bytes: [UInt8]) throws(JSONSyntaxError) {
        guard bytes.count < Int32.max else { throw JSONSyntaxError(reason: "document too large", offset: 0) }
        self.bytes = bytes
        var entries: [Entry] = []
        entries.reserveCapacity(bytes.count / 16)
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONSyntaxError) in
            var parser = Parser(bytes: buffer)
            parser.skipWhitespace()
            try parser.parseValue(into: &entries, depth: 0)
            parser.skipWhitespace()
            guard parser.offset == buffer.count else { throw parser.error("unexpected data after the document") }
        }
        self.entries = entries
    }

    subscript(index: Int) -> Entry { self.entries[index] }

    /// The text of a string entry, with escapes resolved.
    ///
    /// - Throws: `JSONSyntaxError` when the string is not valid UTF-8.
    func string(at index: Int) throws(JSONSyntaxError) -> String {
        let entry = self.entries[index]
        let range = Int(entry.start)..<Int(entry.end)
        let text: String?
        if entry.kind == .string {
            text = self.bytes.withUnsafeBufferPointer { Self.validUTF8(UnsafeBufferPointer(rebasing: $0[range])) }
        } else {
            text = try Self.unescape(self.bytes[range], at: range.lowerBound).withUnsafeBufferPointer(Self.validUTF8)
        }
        guard let text else { throw JSONSyntaxError(reason: "string is not valid UTF-8", offset: range.lowerBound) }
        return text
    }

    /// The text of `bytes` if they are valid UTF-8. `String(validating:)` is not specialised for
    /// buffers and cost more than the rest of the string's creation; decoding repairs invalid
    /// sequences, so a result that differs from the input means the input was invalid.
    private static func validUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var text = String(decoding: bytes, as: UTF8.self)
        let unchanged = text.withUTF8 { decoded in
            decoded.count == bytes.count && (bytes.isEmpty || memcmp(decoded.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
        return unchanged ? text : nil
    }

    /// Whether the string entry at `index` is exactly `text`.
    func string(at index: Int, equals text: String) -> Bool {
        let entry = self.entries[index]
        guard entry.kind == .string else { return (try? self.string(at: index)) == text }
        var text = text
        return text.withUTF8 { expected in
            guard expected.count == Int(entry.end - entry.start) else { return false }
            return expected.isEmpty || self.bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + Int(entry.start), expected.baseAddress!, expected.count) == 0 }
        }
    }

    /// The bytes of a number entry as text (numbers are ASCII).
    func numberText(at index: Int) -> Substring {
        let entry = self.entries[index]
        return Substring(decoding: self.bytes[Int(entry.start)..<Int(entry.end)], as: UTF8.self)
    }

    /// Resolves `\` escapes; `\u` pairs become UTF-8.
    private static func unescape(_ bytes: ArraySlice<UInt8>, at offset: Int) throws(JSONSyntaxError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        func hex4(_ at: Int) throws(JSONSyntaxError) -> UInt32 {
            var value: UInt32 = 0
            for position in at..<at + 4 {
                // The parser checked that four hex digits follow every \u.
                value = value << 4 | UInt32(hexDigitValue(bytes[position])!)
            }
            return value
        }
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            let escaped = bytes[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    guard index + 6 <= bytes.endIndex, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw JSONSyntaxError(reason: "unpaired surrogate in \\u escape", offset: index)
                    }
                    let low = try hex4(index + 2)
                    guard (0xDC00..<0xE000).contains(low) else { throw JSONSyntaxError(reason: "unpaired surrogate in \\u escape", offset: index) }
                    scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    index += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw JSONSyntaxError(reason: "unpaired surrogate in \\u escape", offset: index) }
                out.append(contentsOf: UTF8.encode(unicode)!)
            default: out.append(escaped)  // \" \\ \/
            }
        }
        return out
    }

    /// A recursive-descent parser appending to the tape.
    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var offset = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        func error(_ reason: String) -> JSONSyntaxError {
            JSONSyntaxError(reason: reason, offset: self.offset)
        }

        mutating func skipWhitespace() {
            while self.offset < self.bytes.count {
                switch self.bytes[self.offset] {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): self.offset += 1
                default: return
                }
            }
        }

        mutating func parseValue(into entries: inout [Entry], depth: Int) throws(JSONSyntaxError) {
            guard self.offset < self.bytes.count else { throw self.error("unexpected end of the document") }
            switch self.bytes[self.offset] {
            case UInt8(ascii: "{"): try self.parseObject(into: &entries, depth: depth + 1)
            case UInt8(ascii: "["): try self.parseArray(into: &entries, depth: depth + 1)
            case UInt8(ascii: "\""): try self.parseString(into: &entries)
            case UInt8(ascii: "t"): try self.parseLiteral("true", kind: .true, into: &entries)
            case UInt8(ascii: "f"): try self.parseLiteral("false", kind: .false, into: &entries)
            case UInt8(ascii: "n"): try self.parseLiteral("null", kind: .null, into: &entries)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try self.parseNumber(into: &entries)
            default: throw self.error("unexpected character")
            }
        }

        private mutating func parseObject(into entries: inout [Entry], depth: Int) throws(JSONSyntaxError) {
            guard depth <= JSONTape.maximumDepth else { throw self.error("nested deeper than \(JSONTape.maximumDepth) levels") }
            let slot = entries.count
            entries.append(Entry(kind: .object, start: Int32(self.offset), end: 0, next: 0))
            self.offset += 1
            self.skipWhitespace()
            var count: Int32 = 0
            if self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: "}") {
                self.offset += 1
            } else {
                while true {
                    guard self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: "\"") else { throw self.error("expected a string key") }
                    try self.parseString(into: &entries)
                    self.skipWhitespace()
                    guard self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: ":") else { throw self.error("expected ':' after a key") }
                    self.offset += 1
                    self.skipWhitespace()
                    try self.parseValue(into: &entries, depth: depth)
                    count += 1
                    self.skipWhitespace()
                    guard self.offset < self.bytes.count else { throw self.error("unterminated object") }
                    let separator = self.bytes[self.offset]
                    self.offset += 1
                    if separator == UInt8(ascii: "}") { break }
                    guard separator == UInt8(ascii: ",") else {
                        self.offset -= 1
                        throw self.error("expected ',' or '}' in an object")
                    }
                    self.skipWhitespace()
                }
            }
            entries[slot].end = count
            entries[slot].next = Int32(entries.count)
        }

        private mutating func parseArray(into entries: inout [Entry], depth: Int) throws(JSONSyntaxError) {
            guard depth <= JSONTape.maximumDepth else { throw self.error("nested deeper than \(JSONTape.maximumDepth) levels") }
            let slot = entries.count
            entries.append(Entry(kind: .array, start: Int32(self.offset), end: 0, next: 0))
            self.offset += 1
            self.skipWhitespace()
            var count: Int32 = 0
            if self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: "]") {
                self.offset += 1
            } else {
                while true {
                    try self.parseValue(into: &entries, depth: depth)
                    count += 1
                    self.skipWhitespace()
                    guard self.offset < self.bytes.count else { throw self.error("unterminated array") }
                    let separator = self.bytes[self.offset]
                    self.offset += 1
                    if separator == UInt8(ascii: "]") { break }
                    guard separator == UInt8(ascii: ",") else {
                        self.offset -= 1
                        throw self.error("expected ',' or ']' in an array")
                    }
                    self.skipWhitespace()
                }
            }
            entries[slot].end = count
            entries[slot].next = Int32(entries.count)
        }

        private mutating func parseString(into entries: inout [Entry]) throws(JSONSyntaxError) {
            self.offset += 1
            let start = self.offset
            var escaped = false
            while true {
                self.skipPlainStringBytes()
                guard self.offset < self.bytes.count else { throw self.error("unterminated string") }
                let byte = self.bytes[self.offset]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { throw self.error("control character in a string") }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    guard self.offset + 1 < self.bytes.count else { throw self.error("unterminated string") }
                    switch self.bytes[self.offset + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        self.offset += 2
                    case UInt8(ascii: "u"):
                        guard self.offset + 6 <= self.bytes.count,
                            (self.offset + 2..<self.offset + 6).allSatisfy({ hexDigitValue(self.bytes[$0]) != nil })
                        else { throw self.error("invalid \\u escape") }
                        self.offset += 6
                    default:
                        throw self.error("invalid escape")
                    }
                    continue
                }
                self.offset += 1
            }
            let kind: Kind = escaped ? .escapedString : .string
            entries.append(Entry(kind: kind, start: Int32(start), end: Int32(self.offset), next: Int32(entries.count + 1)))
            self.offset += 1
        }

        /// Skips eight bytes at a time while none of them is a quote, a backslash or a control
        /// character (the usual bit tricks on a 64-bit word); the byte loop handles the rest.
        private mutating func skipPlainStringBytes() {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highBits: UInt64 = 0x8080_8080_8080_8080
            func hasZeroByte(_ word: UInt64) -> Bool { (word &- ones) & ~word & highBits != 0 }
            guard let base = UnsafeRawPointer(self.bytes.baseAddress) else { return }
            while self.offset + 8 <= self.bytes.count {
                let word = (base + self.offset).loadUnaligned(as: UInt64.self)
                let special =
                    hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
                    || (word &- ones &* 0x20) & ~word & highBits != 0
                if special { return }
                self.offset += 8
            }
        }

        private mutating func parseLiteral(_ literal: StaticString, kind: Kind, into entries: inout [Entry]) throws(JSONSyntaxError) {
            let count = literal.utf8CodeUnitCount
            guard self.offset + count <= self.bytes.count,
                UnsafeBufferPointer(start: literal.utf8Start, count: count).elementsEqual(UnsafeBufferPointer(rebasing: self.bytes[self.offset..<self.offset + count]))
            else { throw self.error("unexpected character") }
            entries.append(Entry(kind: kind, start: Int32(self.offset), end: Int32(self.offset + count), next: Int32(entries.count + 1)))
            self.offset += count
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        private mutating func parseNumber(into entries: inout [Entry]) throws(JSONSyntaxError) {
            let start = self.offset
            func isDigit(_ offset: Int) -> Bool {
                offset < self.bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[offset])
            }
            func digits() throws(JSONSyntaxError) {
                guard isDigit(self.offset) else { throw self.error("malformed number") }
                while isDigit(self.offset) { self.offset += 1 }
            }
            if self.bytes[self.offset] == UInt8(ascii: "-") { self.offset += 1 }
            if self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: "0") {
                self.offset += 1
            } else {
                try digits()
            }
            if self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: ".") {
                self.offset += 1
                try digits()
            }
            if self.offset < self.bytes.count, self.bytes[self.offset] | 0x20 == UInt8(ascii: "e") {
                self.offset += 1
                if self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: "+") || self.bytes[self.offset] == UInt8(ascii: "-") {
                    self.offset += 1
                }
                try digits()
            }
            entries.append(Entry(kind: .number, start: Int32(start), end: Int32(self.offset), next: Int32(entries.count + 1)))
        }
    }
}

/// A document that is not JSON. The reason names the problem, never the document's content.
struct JSONSyntaxError: Error, CustomStringConvertible {
    var reason: String
    /// Byte offset of the problem in the document.
    var offset: Int
    var description: String { "\(self.reason) at byte \(self.offset)" }
}
