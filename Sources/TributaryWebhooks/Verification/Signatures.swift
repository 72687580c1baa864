import Crypto
import Foundation

/// Signature checks on raw bytes. Every comparison is constant-time in the compared values.
enum Signatures {
    /// Whether `signature` (raw MAC bytes) is the HMAC-SHA256 of `body` under `secret`.
    static func isValidHMACSHA256(_ signature: [UInt8], body: [UInt8], secret: SymmetricKey) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: body, using: secret)
    }

    /// Whether `signature` is the HMAC-SHA1 of `body` (GitHub's legacy header, only when enabled).
    static func isValidHMACSHA1(_ signature: [UInt8], body: [UInt8], secret: SymmetricKey) -> Bool {
        HMAC<Insecure.SHA1>.isValidAuthenticationCode(signature, authenticating: body, using: secret)
    }

    /// Compares two tokens without leaking, through timing, how much of them matched or their length.
    static func tokensAreEqual(_ lhs: String, _ rhs: String) -> Bool {
        // Equal-length digests make the byte comparison independent of the tokens' lengths.
        let left = SHA256.hash(data: Array(lhs.utf8))
        let right = SHA256.hash(data: Array(rhs.utf8))
        var difference: UInt8 = 0
        for (a, b) in zip(left, right) { difference |= a ^ b }
        return difference == 0
    }

    /// Decodes lower- or upper-case hex; `nil` for anything else.
    static func hexBytes<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0, !utf8.isEmpty else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = hexDigitValue(utf8[index]), let low = hexDigitValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// Lower-case hex. By hand: `String(format:)` per byte costs microseconds on Linux.
    static func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard Webhooks v1: `webhook-signature` holds space-separated `v1,<base64>` entries, each an
    /// HMAC-SHA256 of `{id}.{timestamp}.{body}` under the base64 key after `whsec_`.
    static func isValidStandardWebhook(
        id: String,
        timestamp: String,
        signatureHeader: String,
        body: [UInt8],
        secret: SymmetricKey
    ) -> Bool {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let expected = HMAC<SHA256>.authenticationCode(for: signed, using: secret)
        var matched = false
        for entry in signatureHeader.split(separator: " ") {
            guard entry.hasPrefix("v1,"), let candidate = Data(base64Encoded: String(entry.dropFirst(3))) else { continue }
            // Evaluate every entry, so timing does not reveal which one matched.
            if candidate.count == SHA256.byteCount, Self.constantTimeEqual(Array(candidate), Array(expected)) { matched = true }
        }
        return matched
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// The key of a Standard Webhooks secret: base64 after an optional `whsec_` prefix.
    static func standardWebhookKey(_ secret: String) -> SymmetricKey? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let data = Data(base64Encoded: encoded), !data.isEmpty else { return nil }
        return SymmetricKey(data: data)
    }
}

/// The value of one hex digit, either case; `nil` for anything else.
func hexDigitValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
}
