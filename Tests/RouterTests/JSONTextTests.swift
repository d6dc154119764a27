import Foundation
import Testing

@testable import Router

/// The hot path's JSON writer.
@Suite struct JSONTextTests {
    @Test func jsonTextEscapesAndOrders() {
        var json = JSONText()
        json.object { o in
            o.member("s", "a\"b\\c\nd\u{01}é")
            o.member("n", nil as String?)
            o.member("i", 42)
            o.member("b", true)
            o.member("list", ["x", "y"])
            o.member("map", ["b": "2", "a": "1"] as [String: String]?)
            o.member("caps", ["z": nil, "y": 3] as [String: Int?])
            o.member("neg", -1203)
            o.member("zero", 0)
            o.member("min", Int.min)
            o.member("keys", ["q\"k\n": "v"] as [String: String]?)
        }
        let text = json.text
        #expect(text == #"{"s":"a\"b\\c\nd\u0001é","n":null,"i":42,"b":true,"list":["x","y"],"map":{"a":"1","b":"2"},"caps":{"y":3,"z":null},"#
            + #""neg":-1203,"zero":0,"min":-9223372036854775808,"keys":{"q\"k\n":"v"}}"#)
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) != nil)
    }
}
