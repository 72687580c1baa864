import Foundation

/// How Kustomize types and prints scalars. It reads YAML with go-yaml v3 (YAML 1.2 core types) and
/// prints through JSON and go-yaml v2 (YAML 1.1 quoting), so both rule sets are needed to give
/// byte-identical output.
enum YAMLResolver {
    /// Types a plain scalar as go-yaml v3 does and canonicalizes numbers as JSON then go-yaml v2 print them.
    static func resolvePlain(_ text: String) -> YAMLScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return YAMLScalar(kind: .null, text: "null")
        case "true", "True", "TRUE": return YAMLScalar(kind: .bool, text: "true")
        case "false", "False", "FALSE": return YAMLScalar(kind: .bool, text: "false")
        default: break
        }
        guard let first = text.utf8.first, "+-0123456789.".utf8.contains(first) else {
            return YAMLScalar(kind: .string, text: text)
        }
        if let integer = Self.integer(text) { return YAMLScalar(kind: .int, text: integer) }
        if Self.isFloat(text), let value = Double(text) { return YAMLScalar(kind: .float, text: Self.printFloat(value)) }
        if Self.isDate(text) { return YAMLScalar(kind: .string, text: text + "T00:00:00Z") }
        return YAMLScalar(kind: .string, text: text)
    }

    /// Go's `strconv.ParseInt(text, 0, 64)` (then `ParseUint`), printed in decimal.
    private static func integer(_ text: String) -> String? {
        var body = Substring(text)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        var radix = 10
        let lower = body.lowercased()
        if lower.hasPrefix("0x") { radix = 16; body = body.dropFirst(2) }
        else if lower.hasPrefix("0o") { radix = 8; body = body.dropFirst(2) }
        else if lower.hasPrefix("0b") { radix = 2; body = body.dropFirst(2) }
        else if body.count > 1 && body.first == "0" { radix = 8; body = body.dropFirst() }
        if radix != 10 { body = Substring(body.replacingOccurrences(of: "_", with: "")) }
        guard !body.isEmpty, let magnitude = UInt64(body, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == 0 ? "0" : "-\(magnitude)"
        }
        return String(magnitude)
    }

    private static func isFloat(_ text: String) -> Bool {
        // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        func digits() -> Int {
            var count = 0
            while let byte = bytes.first, byte >= 48 && byte <= 57 { bytes = bytes.dropFirst(); count += 1 }
            return count
        }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if bytes.first == UInt8(ascii: ".") { bytes = bytes.dropFirst(); _ = digits() }
        }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }

    private static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return false }
        return bytes.enumerated().allSatisfy { $0.offset == 4 || $0.offset == 7 || ($0.element >= 48 && $0.element <= 57) }
    }

    /// A float as it comes out of JSON (integral values become integers) and go-yaml v2's `%g`.
    static func printFloat(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e21 {
            return abs(value) < 9.2e18 ? String(Int64(value)) : String(format: "%.0f", value)
        }
        // Shortest round-trip digits, then Go's 'g' layout: exponent form when exp < -4 || exp >= 21.
        let description = "\(abs(value))"
        var mantissa = description
        var exponent = 0
        if let e = description.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(description[..<e])
            exponent = Int(description[description.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fraction
        var pointPosition = integerPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPosition -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let decimalExponent = pointPosition - 1
        let sign = value < 0 ? "-" : ""
        if decimalExponent < -4 || decimalExponent >= 21 {
            let head = String(digits.prefix(1))
            let tail = String(digits.dropFirst())
            let magnitude = String(abs(decimalExponent))
            return sign + head + (tail.isEmpty ? "" : "." + tail) + "e" + (decimalExponent < 0 ? "-" : "+")
                + (magnitude.count < 2 ? "0" + magnitude : magnitude)
        }
        if pointPosition <= 0 { return sign + "0." + String(repeating: "0", count: -pointPosition) + digits }
        if pointPosition >= digits.count { return sign + digits + String(repeating: "0", count: pointPosition - digits.count) }
        let index = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<index] + "." + digits[index...]
    }

    /// Whether go-yaml v2 would read this string back as something else, so it must be double-quoted.
    static func printsQuoted(_ text: String) -> Bool {
        switch text {
        case "", "~", "null", "Null", "NULL", "<<",
             "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
             "true", "True", "TRUE", "false", "False", "FALSE",
             "on", "On", "ON", "off", "Off", "OFF",
             ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
            return true
        default: break
        }
        guard let first = text.utf8.first, "+-0123456789.".utf8.contains(first) else { return false }
        let plain = text.replacingOccurrences(of: "_", with: "")
        if Self.integer(plain) != nil || Self.isFloat(plain) { return true }
        if Self.isBase60(text) { return true }
        return Self.looksLikeTimestamp(text)
    }

    private static func isBase60(_ text: String) -> Bool {
        // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
        guard text.contains(":") else { return false }
        var body = Substring(text)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        let (main, _) = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).count == 2
            ? (body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)[0], true) : (body, false)
        let groups = main.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count >= 2, let head = groups.first, let digit = head.first, digit.isASCII, digit.isNumber,
              head.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "_" }) else { return false }
        return groups.dropFirst().allSatisfy { group in
            (1...2).contains(group.count) && group.allSatisfy { $0.isASCII && $0.isNumber } && (group.count == 1 || group.first! <= "5")
        }
    }

    private static func looksLikeTimestamp(_ text: String) -> Bool {
        // go-yaml v2 tries "2006-1-2" with optional time parts: a year, a month and a day first.
        let dateEnd = text.firstIndex(where: { $0 == "T" || $0 == "t" || $0 == " " }) ?? text.endIndex
        let parts = text[..<dateEnd].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, (1...2).contains(parts[1].count), (1...2).contains(parts[2].count),
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return false }
        return dateEnd == text.endIndex || text[text.index(after: dateEnd)...].first?.isNumber == true
    }

    /// go-yaml v2's map key order: letters after other characters, runs of digits compared as numbers.
    static func keyPrecedes(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.unicodeScalars)
        let b = Array(rhs.unicodeScalars)
        var i = 0
        while i < a.count && i < b.count {
            if a[i] == b[i] { i += 1; continue }
            let aLetter = a[i].properties.isAlphabetic
            let bLetter = b[i].properties.isAlphabetic
            if aLetter && bLetter { return a[i].value < b[i].value }
            if aLetter || bLetter { return bLetter }
            func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= 48 && scalar.value <= 57 }
            var aNumber: Int64 = 0
            var bNumber: Int64 = 0
            if a[i] == "0" || b[i] == "0" {
                var j = i - 1
                while j >= 0 && isDigit(a[j]) {
                    if a[j] != "0" { aNumber = 1; bNumber = 1; break }
                    j -= 1
                }
            }
            var ai = i
            while ai < a.count && isDigit(a[ai]) { aNumber = aNumber &* 10 &+ Int64(a[ai].value - 48); ai += 1 }
            var bi = i
            while bi < b.count && isDigit(b[bi]) { bNumber = bNumber &* 10 &+ Int64(b[bi].value - 48); bi += 1 }
            if aNumber != bNumber { return aNumber < bNumber }
            if ai != bi { return ai < bi }
            return a[i].value < b[i].value
        }
        return a.count < b.count
    }
}
