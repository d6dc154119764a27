import Basics
import Foundation
import Testing

@testable import Imports

/// Vendor answers read through `JSONValue`: the shapes the vendors document, and hostile ones.
@Suite struct ConnectorParsingTests {
    func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test(arguments: [("42", 42), ("42.0", 42), ("\"42\"", 42), ("4.5", 4), ("-4.5", -4), ("1e20", nil), ("true", nil), ("null", nil)] as [(String, Int?)])
    func numbersAreReadOrRefusedNeverATrap(_ text: String, _ expected: Int?) throws {
        #expect(ConnectorHTTP.int(try json(text)) == expected)
    }

    @Test func aGongCallReadsItsMetadataPartiesAndMedia() throws {
        let call = try json(#"""
            {"metaData": {"id": 7782342274025937895, "title": "Discovery", "started": "2025-03-02T14:00:00Z", "duration": 1860, "direction": "Outbound"},
             "parties": [{"name": "Ada", "emailAddress": "ada@acme.example", "affiliation": "External", "speakerId": "s1"}],
             "media": {"audioUrl": "https://media.example/a.mp3"}}
            """#)
        let parsed = try #require(GongConnector.parseCall(call))
        #expect(parsed.externalId == "7782342274025937895")
        #expect(parsed.durationSeconds == 1860)
        #expect(parsed.participants.first?.email == "ada@acme.example")
        #expect(parsed.recordingURL == "https://media.example/a.mp3")
    }

    @Test func aGongCallWithoutMetadataOrWithAbsurdNumbersIsSkippedOrClamped() throws {
        #expect(GongConnector.parseCall(try json(#"{"parties": []}"#)) == nil)
        #expect(GongConnector.parseCall(try json(#"{"metaData": "x"}"#)) == nil)
        let odd = try #require(GongConnector.parseCall(try json(#"{"metaData": {"id": "c1", "duration": 1e300, "started": 1e300}}"#)))
        #expect(odd.durationSeconds == nil)
        #expect(odd.startedAt == nil)
    }

    @Test func credentialsMustBeAnObjectOfText() throws {
        #expect(try ConnectorCredentials.validate(#"{"token": "t"}"#, platform: "grain") == ["token": "t"])
        #expect(throws: ImportError.self) { try ConnectorCredentials.validate(#"{"token": 5}"#, platform: "grain") }
        #expect(throws: ImportError.self) { try ConnectorCredentials.validate(#"["token"]"#, platform: "grain") }
    }
}
