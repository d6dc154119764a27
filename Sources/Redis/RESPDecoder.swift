import NIOCore

/// Decodes RESP2 replies from the bytes of a non-blocking Redis connection into `RedisValue`s.
/// A reply split across reads is left in the buffer until the rest arrives.
public struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RedisValue

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> RedisValue? {
        var copy = buffer
        guard let value = try Self.parse(&copy) else { return nil }
        buffer = copy
        return value
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RedisValue? {
        try decode(buffer: &buffer)
    }

    /// One reply from the front of `buffer`; nil (buffer untouched or partly read) when incomplete.
    static func parse(_ buffer: inout ByteBuffer) throws -> RedisValue? {
        guard let type = buffer.readInteger(as: UInt8.self), let line = readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .status(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"): return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            guard let n = Int(String(decoding: line, as: UTF8.self)) else { throw RedisError(.unexpectedReply, "bad integer reply") }
            return .integer(n)
        case UInt8(ascii: "$"):
            guard let length = Int(String(decoding: line, as: UTF8.self)) else { throw RedisError(.unexpectedReply, "bad bulk length") }
            if length < 0 { return .null }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(String(decoding: line, as: UTF8.self)) else { throw RedisError(.unexpectedReply, "bad array length") }
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
}

/// Encodes commands as RESP arrays of bulk strings (argv: no quoting, no formatting).
public enum RESPEncoder {
    /// Appends one command to `buffer`.
    public static func write(_ args: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(args.count, into: &buffer)
        for arg in args {
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(arg.utf8.count, into: &buffer)
            buffer.writeString(arg)
            buffer.writeInteger(UInt16(0x0D0A)) // CR LF, big-endian
        }
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
