import Foundation
import Testing

@testable import TributaryWebhooks

/// Any JSON value, decodable through any `Decoder`: used to compare the tape decoder with `JSONDecoder`.
private enum AnyJSON: Decodable, Equatable {
    case object([String: AnyJSON]), array([AnyJSON]), string(String), number(Double), bool(Bool), null

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            var values: [String: AnyJSON] = [:]
            for key in object.allKeys where values[key.stringValue] == nil {
                values[key.stringValue] = try object.decode(AnyJSON.self, forKey: key)
            }
            self = .object(values)
        } else if var array = try? decoder.unkeyedContainer() {
            var values: [AnyJSON] = []
            while !array.isAtEnd { values.append(try array.decode(AnyJSON.self)) }
            self = .array(values)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                self = .null
            } else if let flag = try? single.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? single.decode(Double.self) {
                self = .number(number)
            } else {
                self = .string(try single.decode(String.self))
            }
        }
    }
}

private struct Push: Decodable, Equatable {
    var ref: String
    var size: Int?
    var forced: Bool?
    var tags: [String]?
    var owner: Owner

    struct Owner: Decodable, Equatable {
        var name: String
        var id: UInt32?
    }
}

@Suite("JSON tape and decoder")
struct JSONTapeDecoderTests {
    static let documents: [String] = [
        #"{"a": 1, "b": [true, false, null, -0.5e+3, 12E-2, 0], "c": {"d": "e", "f": {}}, "g": []}"#,
        #"  "just a string"  "#,
        #"[1, "two", {"three": [3]}]"#,
        #"{"escapes": "quote \" backslash \\ slash \/ \b\f\n\r\t tab", "unicode": "\u00e9\u4e2d\ud83d\ude00", "raw": "é中😀"}"#,
        #"{"dup": 1, "dup": 2}"#,
        #"-12345678901234"#,
    ]

    @Test(arguments: Self.documents)
    func decodesLikeJSONDecoder(document: String) throws {
        let bytes = Array(document.utf8)
        let expected = try JSONDecoder().decode(AnyJSON.self, from: Data(bytes))
        #expect(try JSONTapeDecoder.decode(AnyJSON.self, from: bytes) == expected)
    }

    @Test(arguments: WebhookProvider.allCases)
    func decodesEveryProvidersTestPayloadLikeJSONDecoder(provider: WebhookProvider) throws {
        let bytes = Payloads.push(provider)
        let expected = try JSONDecoder().decode(AnyJSON.self, from: Data(bytes))
        #expect(try JSONTapeDecoder.decode(AnyJSON.self, from: bytes) == expected)
    }

    @Test func decodesTypedPayloads() throws {
        let document = #"{"ref": "refs/heads/main", "size": 3.0, "forced": null, "tags": ["v1", "v\u0032"], "owner": {"name": "acme", "id": 7}}"#
        let push = try JSONTapeDecoder.decode(Push.self, from: Array(document.utf8))
        #expect(push == Push(ref: "refs/heads/main", size: 3, forced: nil, tags: ["v1", "v2"], owner: .init(name: "acme", id: 7)))
    }

    @Test func reportsMissingKeysAndWrongTypesWithTheirPath() throws {
        #expect {
            try JSONTapeDecoder.decode(Push.self, from: Array(#"{"ref": "x", "owner": {}}"#.utf8))
        } throws: { error in
            guard case DecodingError.keyNotFound(let key, let context) = error else { return false }
            return key.stringValue == "name" && context.codingPath.map(\.stringValue) == ["owner"]
        }
        #expect {
            try JSONTapeDecoder.decode(Push.self, from: Array(#"{"ref": "x", "tags": ["a", 2], "owner": {"name": "n"}}"#.utf8))
        } throws: { error in
            guard case DecodingError.typeMismatch(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["tags", "Index 1"]
        }
        #expect {
            try JSONTapeDecoder.decode(Push.self, from: Array(#"{"ref": null, "owner": {"name": "n"}}"#.utf8))
        } throws: { error in
            guard case DecodingError.valueNotFound = error else { return false }
            return true
        }
        #expect {
            try JSONTapeDecoder.decode(Push.self, from: Array(#"{"ref": "x", "size": 2.5, "owner": {"name": "n", "id": -1}}"#.utf8))
        } throws: { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["size"]
        }
    }

    static let malformed: [(String, Int)] = [
        ("", 0),
        ("{", 1),
        (#"{"a" 1}"#, 5),
        (#"{"a": 1,}"#, 8),
        (#"{a: 1}"#, 1),
        ("[1 2]", 3),
        ("[01]", 2),
        ("[1.]", 3),
        ("[-]", 2),
        ("[1e]", 3),
        ("tru", 0),
        ("nul", 0),
        (#""abc"#, 4),
        ("\"tab\there\"", 4),
        (#""\x""#, 1),
        (#""\u12G4""#, 1),
        (#"{} {}"#, 3),
        ("[NaN]", 1),
    ]

    @Test(arguments: Self.malformed)
    func refusesMalformedDocumentsNamingTheOffset(document: String, offset: Int) {
        #expect(throws: JSONSyntaxError.self) { try JSONTape(parsing: Array(document.utf8)) }
        do {
            _ = try JSONTape(parsing: Array(document.utf8))
        } catch {
            #expect(error.offset == offset, "\(document): \(error)")
        }
    }

    @Test func refusesInvalidUTF8AndLoneSurrogatesWhenRead() throws {
        let invalid = Array(#"{"name": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONTapeDecoder.decode([String: String].self, from: invalid) }
        #expect(throws: DecodingError.self) { try JSONTapeDecoder.decode([String].self, from: Array(#"["\ud800 alone"]"#.utf8)) }
    }

    @Test func refusesNestingDeeperThanTheLimit() throws {
        let deep = String(repeating: "[", count: JSONTape.maximumDepth + 1) + String(repeating: "]", count: JSONTape.maximumDepth + 1)
        #expect(throws: JSONSyntaxError.self) { try JSONTape(parsing: Array(deep.utf8)) }
        let allowed = String(repeating: "[", count: JSONTape.maximumDepth) + String(repeating: "]", count: JSONTape.maximumDepth)
        _ = try JSONTape(parsing: Array(allowed.utf8))
    }
}
