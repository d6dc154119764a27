import Foundation
import NIOCore
import Testing
@testable import Router

/// The router's wire fast path reads plain route requests itself and hands everything else to
/// the full HTTP stack: what counts as plain, and what it reads from the head.
@Suite struct RouteRequestHeadTests {
    func parse(_ text: String, maxBody: Int = 64 * 1024) -> RouteRequestHead.Parse {
        Array(text.utf8).withUnsafeBytes { RouteRequestHead.parse($0, maxBody: maxBody) }
    }

    @Test func readsAPlainRequest() {
        let head = "POST /v1/route HTTP/1.1\r\nHost: r\r\nauthorization:  Bearer sbr_1 \r\nCONTENT-LENGTH: 42\r\nContent-Type: application/json\r\n\r\n"
        #expect(parse(head + "{…") == .request(RouteRequestHead(headLength: head.utf8.count, bodyLength: 42, authorization: "Bearer sbr_1", keepAlive: true)))
        let close = "POST /v1/route HTTP/1.1\r\nConnection: Close\r\n\r\n"
        #expect(parse(close) == .request(RouteRequestHead(headLength: close.utf8.count, bodyLength: 0, authorization: nil, keepAlive: false)))
    }

    @Test func waitsForTheWholeHead() {
        let head = "POST /v1/route HTTP/1.1\r\nContent-Length: 2\r\n\r\n"
        let bytes = Array(head.utf8)
        for cut in 0..<bytes.count {
            #expect(bytes[..<cut].withUnsafeBytes { RouteRequestHead.parse($0, maxBody: 100) } == .incomplete, "cut at \(cut)")
        }
    }

    @Test(arguments: [
        "GET /health HTTP/1.1\r\n\r\n",
        "POST /v1/route?x=1 HTTP/1.1\r\n\r\n",
        "POST /v1/route HTTP/1.0\r\n\r\n",
        "POST /v1/routes HTTP/1.1\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nContent-Length: 70000\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nno colon here\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "PUT /v1/route HTTP/1.1\r\n",
        "\r\nPOST /v1/route HTTP/1.1\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nX-A: b\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nX-A: b\u{0}c\r\nContent-Length: 5\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nContent-Length: 5 \r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /v1/route HTTP/1.1\r\nX\u{E9}: b\r\n\r\n",
    ])
    func handsAnythingElseToTheFullStack(_ text: String) {
        #expect(parse(text) == .other)
    }

    @Test func aHeadWithoutEndOverTheLimitIsNotOurs() {
        #expect(parse("POST /v1/route HTTP/1.1\r\nX: " + String(repeating: "a", count: RouteRequestHead.maxHead)) == .other)
    }

    @Test func datesAreIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT") // RFC 9110's example
        #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        var date = HTTPDate()
        var buffer = ByteBuffer()
        date.write(into: &buffer)
        #expect(buffer.readableBytes == 29)
    }

    @Test func decisionIdsSortByTimeAndDoNotRepeat() throws {
        let ids = (0..<100_000).map { _ in RouteService.decisionId() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.utf8.count == 29 && $0.first == "d" && $0.dropFirst().allSatisfy(\.isHexDigit) })
        let ms = Int(Date().timeIntervalSince1970 * 1000)
        let stamped = try #require(Int(ids.last!.dropFirst().prefix(12), radix: 16))
        #expect(abs(stamped - ms) < 60_000)
        #expect(ids.first!.prefix(13) <= ids.last!.prefix(13))
    }
}
