import NIOCore
import Testing
@testable import Redis

/// The non-blocking client's RESP2 parser: every reply type, and replies split across reads.
@Suite struct RESPDecoderTests {
    func decodeAll(_ chunks: [String]) throws -> [RedisValue] {
        var buffer = ByteBuffer()
        var out: [RedisValue] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while true {
                var rest = buffer
                guard let value = try RESPDecoder.parse(&rest) else { break } // incomplete: keep the bytes
                buffer = rest
                out.append(value)
            }
        }
        return out
    }

    @Test func decodesEveryReplyType() throws {
        let replies = try decodeAll(["+OK\r\n-ERR bad\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\nx\r\n:7\r\n*-1\r\n$0\r\n\r\n"])
        #expect(replies == [.status("OK"), .error("ERR bad"), .integer(42), .bulk(Array("abc".utf8)), .null,
                            .array([.bulk([UInt8(ascii: "x")]), .integer(7)]), .null, .bulk([])])
    }

    @Test func waitsForTheRestOfASplitReply() throws {
        let whole = "*3\r\n$5\r\nhello\r\n*1\r\n:-12\r\n$2\r\nab\r\n"
        for cut in 1..<whole.utf8.count {
            let bytes = Array(whole.utf8)
            let replies = try decodeAll([String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)])
            #expect(replies == [.array([.bulk(Array("hello".utf8)), .array([.integer(-12)]), .bulk(Array("ab".utf8))])], "cut at \(cut)")
        }
    }

    @Test func rejectsGarbage() {
        #expect(throws: RedisError.self) { try decodeAll(["?what\r\n"]) }
        #expect(throws: RedisError.self) { try decodeAll([":notanumber\r\n"]) }
        #expect(throws: RedisError.self) { try decodeAll(["$3x\r\nabc\r\n"]) }
        #expect(throws: RedisError.self) { try decodeAll([":-\r\n"]) }
        #expect(throws: RedisError.self) { try decodeAll([":1234567890123456789012\r\n"]) }
    }

    @Test func encodesArgvWithoutInterpretingIt() {
        var buffer = ByteBuffer()
        RESPEncoder.write(["SET", "k y", "a\r\nb", "é"], into: &buffer)
        #expect(buffer.readString(length: buffer.readableBytes) == "*4\r\n$3\r\nSET\r\n$3\r\nk y\r\n$4\r\na\r\nb\r\n$2\r\né\r\n")
    }
}
