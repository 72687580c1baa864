import Foundation
import Testing

@testable import TributaryWebhooks

/// Any JSON value: `JSONDecoder`'s reading of a document, compared with the tape's.
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
            for key in object.allKeys { values[key.stringValue] = try object.decode(AnyJSON.self, forKey: key) }
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

    init(_ value: JSONValue) throws {
        switch value.kind {
        case .object:
            var values: [String: AnyJSON] = [:]
            for (key, member) in try value.members() where values[key] == nil { values[key] = try AnyJSON(member) }
            self = .object(values)
        case .array: self = .array(try value.elements().map(AnyJSON.init))
        case .string, .escapedString: self = .string(try value.string())
        case .number: self = .number(try value.double())
        case .true, .false: self = .bool(try value.bool())
        case .null: self = .null
        }
    }
}

@Suite("JSON tape")
struct JSONTapeTests {
    static let documents: [String] = [
        #"{"a": 1, "b": [true, false, null, -0.5e+3, 12E-2, 0], "c": {"d": "e", "f": {}}, "g": []}"#,
        #"  "just a string"  "#,
        #"[1, "two", {"three": [3]}]"#,
        #"{"escapes": "quote \" backslash \\ slash \/ \b\f\n\r\t tab", "unicode": "\u00e9\u4e2d\ud83d\ude00", "raw": "é中😀"}"#,
        #"-12345678901234"#,
        #"["0123456789abcdef\"0123456789abcdef\\", "é0123456789abcdef😀0123456789abcdef", "01234567"]"#,
    ]

    @Test(arguments: Self.documents)
    func readsDocumentsAsJSONDecoderDoes(document: String) throws {
        let bytes = Array(document.utf8)
        let expected = try JSONDecoder().decode(AnyJSON.self, from: Data(bytes))
        #expect(try AnyJSON(PayloadDecoding.parse(bytes)) == expected)
    }

    @Test(arguments: WebhookProvider.allCases)
    func readsEveryProvidersTestPayloadAsJSONDecoderDoes(provider: WebhookProvider) throws {
        let bytes = Payloads.push(provider)
        let expected = try JSONDecoder().decode(AnyJSON.self, from: Data(bytes))
        #expect(try AnyJSON(PayloadDecoding.parse(bytes)) == expected)
    }

    @Test func readsMembersByKeyAndTreatsNullAsAbsent() throws {
        let json = try PayloadDecoding.parse(Array(#"{"ref": "main", "size": 3.0, "forced": null, "tags": ["v1", "v\u0032"], "dup": 1, "dup": 2}"#.utf8))
        #expect(try json.string("ref") == "main")
        #expect(try json.optionalInt("size") == 3)
        #expect(try json.optionalBool("forced") == nil)
        #expect(try json.optionalBool("missing") == nil)
        #expect(try json.optionalStrings("tags") == ["v1", "v2"])
        #expect(try json.optionalInt("dup") == 1)
    }

    @Test func errorsNameThePathAndNeverTheContent() throws {
        let json = try PayloadDecoding.parse(Array(#"{"ref": "secret-looking", "owner": {}, "commits": [{"added": ["a", 2]}], "size": 2.5}"#.utf8))
        func reason(_ body: () throws -> Any?) -> String {
            do {
                _ = try body()
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(reason { try json.required("owner").string("name") } == "payload lacks owner.name")
        #expect(reason { try json.required("commits").elements()[0].optionalStrings("added") } == "payload field commits[0].added[1] has the wrong type: expected a string")
        #expect(reason { try json.optionalInt("size") } == "payload field size is not an integer")
        #expect(reason { try json.required("ref").member("x") } == "payload field ref has the wrong type: expected an object")
        #expect(reason { try json.optionalStrings("ref") } == "payload field ref has the wrong type: expected an array")
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
        ("\"0123456789abcdef\u{01}\"", 17),
        ("[\"0123456789abcdef0123456789", 28),
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
        let invalid = try PayloadDecoding.parse(Array(#"{"name": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        #expect(throws: MalformedPayload.self) { try invalid.string("name") }
        let surrogate = try PayloadDecoding.parse(Array(#"["\ud800 alone"]"#.utf8))
        #expect(throws: MalformedPayload.self) { try surrogate.elements()[0].string() }
    }

    @Test func refusesNestingDeeperThanTheLimit() throws {
        let deep = String(repeating: "[", count: JSONTape.maximumDepth + 1) + String(repeating: "]", count: JSONTape.maximumDepth + 1)
        #expect(throws: JSONSyntaxError.self) { try JSONTape(parsing: Array(deep.utf8)) }
        let allowed = String(repeating: "[", count: JSONTape.maximumDepth) + String(repeating: "]", count: JSONTape.maximumDepth)
        _ = try JSONTape(parsing: Array(allowed.utf8))
    }
}

@Suite("Commit file lists")
struct PayloadCommitsTests {
    @Test func mergesTheCommitsListsKeepingTheFirstSightingOfEachPath() throws {
        let json = try PayloadDecoding.parse(
            Array(
                #"""
                {"commits": [
                  {"added": ["b.yaml", "a.yaml"], "modified": ["c.yaml"], "removed": []},
                  {"added": ["a.yaml"], "modified": ["c.yaml", "d.yaml"]},
                  {"removed": ["e.yaml"]}
                ]}
                """#.utf8
            )
        )
        let commits = try PayloadCommits(json.member("commits"))
        #expect(commits.count == 3)
        let paths = commits.changedPaths(complete: true)
        #expect(paths == .init(added: ["b.yaml", "a.yaml"], modified: ["c.yaml", "d.yaml"], removed: ["e.yaml"], complete: true))
        #expect(try PayloadCommits(json.member("absent")).count == 0)
    }
}
