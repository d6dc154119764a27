import Foundation

/// One entry of a Redis stream as XREADGROUP / XAUTOCLAIM return it: its id and its fields.
public struct RedisStreamEntry: Sendable {
    public let id: String
    public let fields: [String: String]

    public init(id: String, fields: [String: String]) {
        self.id = id
        self.fields = fields
    }

    /// The entries of an XREADGROUP reply for one stream (`[[stream, [[id, [f, v, …]], …]]]`).
    public static func fromRead(_ reply: RedisValue) -> [RedisStreamEntry] {
        guard let streams = reply.array, let first = streams.first?.array, first.count == 2 else { return [] }
        return fromList(first[1])
    }

    /// The entries of a plain entry list (`[[id, [f, v, …]], …]`, as in XAUTOCLAIM's second element).
    public static func fromList(_ list: RedisValue) -> [RedisStreamEntry] {
        (list.array ?? []).compactMap { item in
            guard let pair = item.array, pair.count == 2, let id = pair[0].string else { return nil }
            var fields: [String: String] = [:]
            let values = pair[1].array ?? []
            for i in stride(from: 0, to: values.count - 1, by: 2) {
                if let k = values[i].string, let v = values[i + 1].string { fields[k] = v }
            }
            return RedisStreamEntry(id: id, fields: fields)
        }
    }
}

extension RedisValue {
    /// A TIME reply as milliseconds since 1970 (the local clock when the reply is not one).
    public var timeMs: Int {
        guard let parts = array, parts.count == 2, let s = parts[0].int, let us = parts[1].int else { return Int(Date().timeIntervalSince1970 * 1000) }
        return s * 1000 + us / 1000
    }
}
