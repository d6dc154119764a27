/// The head of a plain HTTP/1.1 `POST /v1/route` request, read straight from a connection's bytes
/// by the router's wire fast path. Anything less plain — another method or path, HTTP/1.0, a
/// chunked body, `Expect`, `Upgrade`, a repeated or malformed `Content-Length`, a body over the
/// limit, a head over 16 KiB — parses as `.other`, and the full HTTP stack takes the connection.
public struct RouteRequestHead: Sendable, Equatable {
    /// Bytes of the request line and headers, through the blank line.
    public let headLength: Int
    /// The `Content-Length` (0 when absent).
    public let bodyLength: Int
    /// The `Authorization` header's value.
    public let authorization: String?
    /// False when the client sent `Connection: close`.
    public let keepAlive: Bool

    /// What the bytes at the front of a connection's buffer hold.
    public enum Parse: Sendable, Equatable {
        /// The head is not complete yet.
        case incomplete
        /// Not a plain route request: hand the bytes to the full HTTP stack.
        case other
        /// A route request (its body may still be arriving).
        case request(RouteRequestHead)
    }

    /// Heads longer than this are `.other` (the full stack answers with its own limits).
    public static let maxHead = 16 * 1024
    static let requestLine = Array("POST /v1/route HTTP/1.1".utf8)

    /// Parses the head at the start of `bytes`; bodies over `maxBody` bytes are `.other`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxBody: Int) -> Parse {
        guard let end = headEnd(bytes) else {
            let seen = min(bytes.count, requestLine.count)
            if bytes.count > maxHead || !bytes[..<seen].elementsEqual(requestLine[..<seen]) { return .other }
            return .incomplete
        }
        var lineEnd = lineEnd(bytes, from: 0)
        guard lineEnd == requestLine.count, bytes[..<lineEnd].elementsEqual(requestLine) else { return .other }
        var length: Int?
        var authorization: String?
        var keepAlive = true
        var line = lineEnd + 2
        while line < end - 2 {
            lineEnd = Self.lineEnd(bytes, from: line)
            // Strict framing only: a name of token characters right before the colon (so no
            // `Transfer-Encoding : chunked`), no control character (bare LF, NUL) in the value,
            // no folded line. Anything else is the full parser's to judge.
            guard let colon = bytes[line..<lineEnd].firstIndex(of: UInt8(ascii: ":")), colon > line,
                  bytes[line..<colon].allSatisfy(isTokenByte),
                  !bytes[(colon + 1)..<lineEnd].contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return .other }
            let name = UnsafeRawBufferPointer(rebasing: bytes[line..<colon])
            var from = colon + 1, to = lineEnd
            while from < to, bytes[from] == UInt8(ascii: " ") || bytes[from] == UInt8(ascii: "\t") { from += 1 }
            while to > from, bytes[to - 1] == UInt8(ascii: " ") || bytes[to - 1] == UInt8(ascii: "\t") { to -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: bytes[from..<to])
            if equalsIgnoringCase(name, "content-length") {
                // Framing: exactly digits, nothing after them (parsers disagree about "5 " and "5\t").
                guard length == nil, to == lineEnd, let n = decimal(value), n <= maxBody else { return .other }
                length = n
            } else if equalsIgnoringCase(name, "authorization") {
                guard authorization == nil else { return .other }
                authorization = String(decoding: value, as: UTF8.self)
            } else if equalsIgnoringCase(name, "connection") {
                if contains(value, "close") { keepAlive = false }
                if contains(value, "upgrade") { return .other }
            } else if equalsIgnoringCase(name, "transfer-encoding") || equalsIgnoringCase(name, "expect") || equalsIgnoringCase(name, "upgrade") {
                return .other
            }
            line = lineEnd + 2
        }
        return .request(RouteRequestHead(headLength: end, bodyLength: length ?? 0, authorization: authorization, keepAlive: keepAlive))
    }

    /// RFC 9110 `tchar`: what a header name is made of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// The offset just past the first CR LF CR LF, if the bytes hold one.
    static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 3
        while i < bytes.count {
            if bytes[i] == 10, bytes[i - 1] == 13, bytes[i - 2] == 10, bytes[i - 3] == 13 { return i + 1 }
            i += 1
        }
        return nil
    }

    /// The offset of the CR of the CR LF that ends the line starting at `from` (the head is complete).
    static func lineEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        while i + 1 < bytes.count, !(bytes[i] == 13 && bytes[i + 1] == 10) { i += 1 }
        return i
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for i in 0..<bytes.count {
            let byte = bytes[i] >= UInt8(ascii: "A") && bytes[i] <= UInt8(ascii: "Z") ? bytes[i] | 0x20 : bytes[i]
            if byte != expected[i] { return false }
        }
        return true
    }

    static func contains(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let n = lowercase.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        for start in 0...(bytes.count - n) where equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + n)]), lowercase) {
            return true
        }
        return false
    }

    /// A non-negative decimal of at most 9 digits.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var n = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return n
    }
}
