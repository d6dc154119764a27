/// One RESP2 reply from Redis, as hiredis hands it over.
public enum RedisValue: Sendable, Equatable {
    case null
    case status(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case array([RedisValue])

    /// The reply as text: bulk and status replies, integers in decimal; nil otherwise.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The reply as an integer: integer replies and bulk strings holding a decimal number.
    public var int: Int? {
        switch self {
        case .integer(let i): return i
        case .bulk, .status: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of an array reply; nil for anything else.
    public var array: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// True for the nil bulk / nil array reply.
    public var isNull: Bool { self == .null }
}

extension RedisValue {
    /// An HGETALL reply (field, value, field, value, …) as a dictionary; empty for anything else.
    public var hash: [String: String] {
        guard case .array(let items) = self, items.count >= 2 else { return [:] }
        var out: [String: String] = [:]
        out.reserveCapacity(items.count / 2)
        var i = 0
        while i + 1 < items.count {
            if case .bulk(let k) = items[i], case .bulk(let v) = items[i + 1] {
                out[String(decoding: k, as: UTF8.self)] = String(decoding: v, as: UTF8.self)
            }
            i += 2
        }
        return out
    }
}
