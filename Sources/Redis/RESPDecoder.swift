import NIOCore

/// Decodes RESP2 replies from the bytes of a non-blocking Redis connection into `RedisValue`s.
/// A reply split across reads is left in the buffer until the rest arrives.
public enum RESPDecoder {
    /// One reply from the front of `buffer`; nil (buffer untouched or partly read) when incomplete.
    static func parse(_ buffer: inout ByteBuffer) throws -> RedisValue? {
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let line = readLine(&buffer) else { return nil }
            let text = String(decoding: line, as: UTF8.self)
            return type == UInt8(ascii: "+") ? .status(text) : .error(text)
        case UInt8(ascii: ":"):
            guard let n = try readInteger(&buffer, "integer") else { return nil }
            return .integer(n)
        case UInt8(ascii: "$"):
            guard let length = try readInteger(&buffer, "bulk length") else { return nil }
            if length < 0 { return .null }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            guard let count = try readInteger(&buffer, "array length") else { return nil }
            if count < 0 { return .null }
            var items: [RedisValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                guard let item = try parse(&buffer) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw RedisError(.unexpectedReply, "unknown RESP type byte \(type)")
        }
    }

    private static func readLine(_ buffer: inout ByteBuffer) -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), cr + 1 < view.endIndex else { return nil }
        let line = Array(view[view.startIndex..<cr])
        buffer.moveReaderIndex(forwardBy: line.count + 2)
        return line
    }

    /// A signed decimal line (`-1`, `42`) read in place; nil when the line is not complete yet.
    private static func readInteger(_ buffer: inout ByteBuffer, _ what: String) throws -> Int? {
        let parsed: (value: Int, length: Int)?? = buffer.withUnsafeReadableBytes { bytes in
            var i = 0, value = 0, negative = false
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            let digits = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9"), i - digits < 18 {
                value = value * 10 + Int(bytes[i] - UInt8(ascii: "0"))
                i += 1
            }
            guard i + 1 < bytes.count else { return .some(nil) } // wait for CR LF
            guard i > digits, bytes[i] == UInt8(ascii: "\r"), bytes[i + 1] == UInt8(ascii: "\n") else { return nil }
            return (negative ? -value : value, i + 2)
        }
        guard let parsed else { throw RedisError(.unexpectedReply, "bad \(what)") }
        guard let (value, length) = parsed else { return nil }
        buffer.moveReaderIndex(forwardBy: length)
        return value
    }
}

/// Encodes commands as RESP arrays of bulk strings (argv: no quoting, no formatting).
public enum RESPEncoder {
    /// Appends one command to `buffer`.
    public static func write(_ args: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(args.count, into: &buffer)
        for arg in args { writeBulk(arg.utf8.count, into: &buffer) { $0.writeString(arg) } }
    }

    /// Appends one command whose last argument is raw bytes (no String made of them).
    public static func write(_ args: [String], last: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(args.count + 1, into: &buffer)
        for arg in args { writeBulk(arg.utf8.count, into: &buffer) { $0.writeString(arg) } }
        writeBulk(last.count, into: &buffer) { $0.writeBytes(last) }
    }

    private static func writeBulk(_ length: Int, into buffer: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(length, into: &buffer)
        body(&buffer)
        buffer.writeInteger(UInt16(0x0D0A)) // CR LF, big-endian
    }

    /// A non-negative length in decimal followed by CR LF, without making a String.
    static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = max(0, value)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[19 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
                count += 1
            } while n > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(20 - count)...]))
        }
        buffer.writeInteger(UInt16(0x0D0A))
    }
}
