/// Writes compact JSON byte for byte as `TributaryJSON.encode` (`JSONEncoder` with sorted keys and
/// unescaped slashes) would, for the few values encoded on the webhook hot path, where `JSONEncoder`
/// costs more than the rest of the request.
///
/// The caller writes object keys in sorted (UTF-8 byte) order; the writer adds separators.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value or key needs a comma before it.
    private var needsSeparator = false

    public init(capacity: Int = 256) {
        self.bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        self.separate()
        self.bytes.append(UInt8(ascii: "{"))
        self.needsSeparator = false
    }

    public mutating func endObject() {
        self.bytes.append(UInt8(ascii: "}"))
        self.needsSeparator = true
    }

    public mutating func beginArray() {
        self.separate()
        self.bytes.append(UInt8(ascii: "["))
        self.needsSeparator = false
    }

    public mutating func endArray() {
        self.bytes.append(UInt8(ascii: "]"))
        self.needsSeparator = true
    }

    /// An object key; the value written next belongs to it.
    public mutating func key(_ key: String) {
        self.separate()
        self.appendQuoted(key)
        self.bytes.append(UInt8(ascii: ":"))
        self.needsSeparator = false
    }

    public mutating func string(_ value: String) {
        self.separate()
        self.appendQuoted(value)
        self.needsSeparator = true
    }

    public mutating func bool(_ value: Bool) {
        self.literal(value ? "true" : "false")
    }

    public mutating func int(_ value: Int) {
        self.literal(String(value))
    }

    public mutating func null() {
        self.literal("null")
    }

    public mutating func strings(_ values: [String]) {
        self.beginArray()
        for value in values { self.string(value) }
        self.endArray()
    }

    private mutating func literal(_ text: String) {
        self.separate()
        self.bytes.append(contentsOf: text.utf8)
        self.needsSeparator = true
    }

    private mutating func separate() {
        if self.needsSeparator { self.bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendQuoted(_ text: String) {
        self.bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Copy runs that need no escaping in one go; most strings are a single run.
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                self.appendEscaped(byte)
                runStart = index + 1
            }
            self.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        self.bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendEscaped(_ byte: UInt8) {
        let hex = Self.hexDigits
        switch byte {
        case 0x08: self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
        case 0x09: self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        case 0x0A: self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 0x0C: self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
        case 0x0D: self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case ..<0x20: self.bytes += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
        default: self.bytes += [UInt8(ascii: "\\"), byte]
        }
    }
}
