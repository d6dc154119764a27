/// A small JSON writer for the router's hot path: Foundation's JSONSerialization sorts keys with
/// locale-aware comparison and boxes every value, which cost most of a decision's CPU time.
/// Members are written in the order given, their names as given (names from code: plain ASCII,
/// nothing to escape); maps are written sorted by key (byte order), their keys escaped.
public struct JSONText: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init() { bytes.reserveCapacity(512) }

    /// The JSON text written so far.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Writes `{ … }` with the members `body` adds.
    public mutating func object(_ body: (inout JSONText) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// A member name from code (plain ASCII, nothing to escape): copied as it is.
    private mutating func key(_ name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = true
    }

    /// A member name from data (a CRM field, a dialer id): escaped.
    private mutating func dataKey(_ name: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        Self.quote(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = true
    }

    /// Members encoded earlier (`"a":1,"b":2`, without braces), appended as they are.
    public mutating func members(_ encoded: [UInt8]) {
        guard !encoded.isEmpty else { return }
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: encoded)
        needsComma = true
    }

    /// A string member; nil writes `null`.
    public mutating func member(_ name: String, _ value: String?) {
        key(name)
        if let value { Self.quote(value, into: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    /// An integer member; nil writes `null`.
    public mutating func member(_ name: String, _ value: Int?) {
        key(name)
        guard let value else { bytes.append(contentsOf: "null".utf8); return }
        Self.decimal(value, into: &bytes)
    }

    /// Appends an integer in decimal without making a String.
    static func decimal(_ value: Int, into bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        var rest = magnitude
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// A boolean member.
    public mutating func member(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// An array of strings.
    public mutating func member(_ name: String, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.quote(value, into: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A map of strings (sorted by key); nil writes `null`.
    public mutating func member(_ name: String, _ map: [String: String]?) {
        key(name)
        guard let map else { bytes.append(contentsOf: "null".utf8); return }
        object { json in
            for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                json.dataKey(k)
                Self.quote(v, into: &json.bytes)
            }
        }
    }

    /// A map of optional integers (sorted by key).
    public mutating func member(_ name: String, _ map: [String: Int?]) {
        key(name)
        object { json in
            for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                json.dataKey(k)
                if let v { Self.decimal(v, into: &json.bytes) } else { json.bytes.append(contentsOf: "null".utf8) }
            }
        }
    }

    /// A nested object member.
    public mutating func member(_ name: String, object body: (inout JSONText) -> Void) {
        key(name)
        object(body)
    }

    /// Appends `value` as a JSON string literal (runs without escapes are copied whole).
    public static func quote(_ value: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        if value.utf8.withContiguousStorageIfAvailable({ escape($0, into: &bytes) }) == nil {
            Array(value.utf8).withUnsafeBufferPointer { escape($0, into: &bytes) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func escape(_ utf8: UnsafeBufferPointer<UInt8>, into bytes: inout [UInt8]) {
        var runStart = 0, i = 0
        while i < utf8.count {
            let byte = utf8[i]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                runStart = i + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
                case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
                default: bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
                }
            }
            i += 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }

    private static let hex = Array("0123456789abcdef".utf8)
}
