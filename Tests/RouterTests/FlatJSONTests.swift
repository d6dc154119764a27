import Testing

@testable import Router

@Suite struct FlatJSONTests {
    @Test func readsFlatStringObjects() {
        #expect(FlatJSON.parse(Array(#" {"callId": "c1", "caller":"+1 555\"x\\y\/z\n", "called": null} "#.utf8)) == ["callId": "c1", "caller": "+1 555\"x\\y/z\n"])
        #expect(FlatJSON.parse(Array("{}".utf8)) == [:])
        #expect(FlatJSON.parse(Array(#"{"é":"ü"}"#.utf8)) == ["é": "ü"])
    }

    @Test func declinesAnythingElse() {
        for text in [#"{"a": 1}"#, #"{"a": {"b": "c"}}"#, #"{"a": "b",}"#, #"{"a" "b"}"#, #"["a"]"#, #"{"a": "\u0041"}"#, #"{"a": "b"} x"#,
                     #"{"a": "b", "a": "c"}"#, "{\"a\": \"b\u{01}\"}", #"{"a": "b"#, "", "null", #"{"a": nul}"#] {
            #expect(FlatJSON.parse(Array(text.utf8)) == nil, "\(text)")
        }
    }
}

/// Telnyx's Ed25519 request signatures.
