/// Reads the few members of an audit chain that become columns (tenant, call id, caller, time,
/// duration, and the answer's dialer, rule and fallbacks) in one pass over its UTF-8 bytes,
/// without building the document: the audit-worker reads every chain the routers write, and
/// Foundation's decoder was a quarter of its time. Returns nil for anything that is not one
/// well-formed JSON object (the caller then falls back to the full decoder).
struct ChainScanner {
    private let bytes: [UInt8]
    private var i = 0

    /// Scans `text`; nil when it is not a JSON object this scanner reads to its end.
    static func head(_ text: String) -> ChainHead? {
        var scanner = ChainScanner(bytes: Array(text.utf8))
        return scanner.object()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    /// The member names the scanner reads; every other name is `.other` (its value is skipped).
    private enum Key: Int {
        case callId, caller, tenant, at, micros, answer, dialer, rule, fallbacks, other
        static let names: [(Key, [UInt8])] = {
            let spelled: [(Key, String)] = [(.callId, "callId"), (.caller, "caller"), (.tenant, "tenant"), (.at, "at"), (.micros, "micros"),
                                            (.answer, "answer"), (.dialer, "dialer"), (.rule, "rule"), (.fallbacks, "fallbacks")]
            return spelled.map { ($0.0, Array($0.1.utf8)) }
        }()
        var bit: UInt16 { self == .other ? 0 : 1 << UInt16(rawValue) }
    }

    /// A member name at the cursor, matched without making a string (unless it holds escapes).
    private mutating func key() -> Key? {
        guard let raw = rawString() else { return nil }
        func match(_ name: ArraySlice<UInt8>) -> Key {
            Key.names.first { $0.1.count == name.count && $0.1.elementsEqual(name) }?.0 ?? .other
        }
        if raw.plain { return match(bytes[raw.start..<raw.end]) }
        guard let text = unescape(bytes[raw.start..<raw.end]) else { return nil }
        return match(Array(text.utf8)[...])
    }

    /// Whether `key` is new in the object (`seen` records it). Foundation's decoder reads the first
    /// of repeated keys; so does this. Names the scanner does not read are never "seen".
    private static func first(_ key: Key, _ seen: inout UInt16) -> Bool {
        if key == .other { return false }
        defer { seen |= key.bit }
        return seen & key.bit == 0
    }

    private mutating func object() -> ChainHead? {
        var head = ChainHead(callId: nil, caller: nil, tenant: nil, at: nil, micros: nil, answer: nil)
        guard take(0x7B) else { return nil }
        if take(0x7D) { return finished(head) }
        var seen: UInt16 = 0
        repeat {
            guard let key = key(), take(0x3A) else { return nil }
            skipSpace()
            switch Self.first(key, &seen) ? key : .other {
            case .callId, .caller, .tenant:
                if bytes.count > i, bytes[i] == 0x22 {
                    guard let value = string() else { return nil }
                    if key == .callId { head.callId = value } else if key == .caller { head.caller = value } else { head.tenant = value }
                } else if !skipValue() { return nil }
            case .at, .micros:
                if let n = integer() {
                    if key == .at { head.at = n } else { head.micros = n }
                } else if !skipValue() { return nil }
            case .answer:
                if bytes.count > i, bytes[i] == 0x7B {
                    guard let answer = answerObject() else { return nil }
                    head.answer = answer
                } else if !skipValue() { return nil }
            default:
                if !skipValue() { return nil }
            }
        } while take(0x2C)
        guard take(0x7D) else { return nil }
        return finished(head)
    }

    private mutating func finished(_ head: ChainHead) -> ChainHead? {
        skipSpace()
        return i == bytes.count ? head : nil
    }

    private mutating func answerObject() -> ChainAnswer? {
        var answer = ChainAnswer(dialer: nil, rule: nil, fallbacks: nil)
        guard take(0x7B) else { return nil }
        if take(0x7D) { return answer }
        var seen: UInt16 = 0
        repeat {
            guard let key = key(), take(0x3A) else { return nil }
            skipSpace()
            if !Self.first(key, &seen) {
                guard skipValue() else { return nil }
            } else if (key == .dialer || key == .rule), i < bytes.count, bytes[i] == 0x22 {
                guard let value = string() else { return nil }
                if key == .dialer { answer.dialer = value } else { answer.rule = value }
            } else if key == .fallbacks, i < bytes.count, bytes[i] == 0x5B {
                let list = stringArray()
                guard list.valid else { return nil }
                answer.fallbacks = list.strings
            } else if !skipValue() { return nil }
        } while take(0x2C)
        return take(0x7D) ? answer : nil
    }

    /// A JSON array: `strings` nil when an element is not a string (as the decoder leaves it);
    /// `valid` false when the array is malformed.
    private mutating func stringArray() -> (valid: Bool, strings: [String]?) {
        guard take(0x5B) else { return (false, nil) }
        var out: [String] = [], allStrings = true
        if take(0x5D) { return (true, out) }
        repeat {
            skipSpace()
            if i < bytes.count, bytes[i] == 0x22 {
                guard let s = string() else { return (false, nil) }
                out.append(s)
            } else {
                allStrings = false
                guard skipValue() else { return (false, nil) }
            }
        } while take(0x2C)
        guard take(0x5D) else { return (false, nil) }
        return (true, allStrings ? out : nil)
    }

    /// The bytes of a JSON string at the cursor (between its quotes) and whether it holds no
    /// escapes; nil when malformed (unterminated, a raw control character).
    private mutating func rawString() -> (start: Int, end: Int, plain: Bool)? {
        skipSpace()
        guard i < bytes.count, bytes[i] == 0x22 else { return nil }
        i += 1
        let start = i
        var plain = true
        while i < bytes.count, bytes[i] != 0x22 {
            if bytes[i] == 0x5C { plain = false; i += 2; continue }
            if bytes[i] < 0x20 { return nil }
            i += 1
        }
        guard i < bytes.count else { return nil }
        let end = i
        i += 1
        return (start, end, plain)
    }

    /// A JSON string at the cursor, unescaped; nil when malformed.
    private mutating func string() -> String? {
        guard let raw = rawString() else { return nil }
        if raw.plain { return String(decoding: bytes[raw.start..<raw.end], as: UTF8.self) }
        return unescape(bytes[raw.start..<raw.end])
    }

    /// Skips a JSON string at the cursor (checking its escapes); false when malformed.
    private mutating func skipString() -> Bool {
        guard let raw = rawString() else { return false }
        return raw.plain || unescape(bytes[raw.start..<raw.end]) != nil
    }

    private func unescape(_ raw: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var k = raw.startIndex
        var pendingHigh: UInt32?
        func appendScalar(_ v: UInt32) { out.append(contentsOf: Array(String(Character(Unicode.Scalar(v) ?? "\u{FFFD}")).utf8)) }
        while k < raw.endIndex {
            let b = raw[k]
            guard b == 0x5C else {
                if pendingHigh != nil { return nil }
                out.append(b)
                k += 1
                continue
            }
            guard k + 1 < raw.endIndex else { return nil }
            let e = raw[k + 1]
            k += 2
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard k + 4 <= raw.endIndex, let v = UInt32(String(decoding: raw[k..<k + 4], as: UTF8.self), radix: 16) else { return nil }
                k += 4
                if (0xD800...0xDBFF).contains(v) {
                    if pendingHigh != nil { return nil }
                    pendingHigh = v
                    continue
                }
                if (0xDC00...0xDFFF).contains(v) {
                    // A low surrogate only after a high one; the decoder refuses lone ones, so does this.
                    guard let high = pendingHigh else { return nil }
                    appendScalar(0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00))
                    pendingHigh = nil
                    continue
                }
                if pendingHigh != nil { return nil }
                appendScalar(v)
            default: return nil
            }
            if pendingHigh != nil { return nil }
        }
        if pendingHigh != nil { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// The extent of a JSON number at the cursor (RFC 8259 grammar) and whether it has a
    /// fraction or exponent; nil when the bytes there are not one.
    private func numberToken() -> (end: Int, integral: Bool)? {
        var k = i
        func digit(_ at: Int) -> Bool { at < bytes.count && bytes[at] >= 0x30 && bytes[at] <= 0x39 }
        if k < bytes.count, bytes[k] == 0x2D { k += 1 }
        guard digit(k) else { return nil }
        if bytes[k] == 0x30 { k += 1 } else { while digit(k) { k += 1 } }
        var integral = true
        if k < bytes.count, bytes[k] == 0x2E {
            k += 1
            guard digit(k) else { return nil }
            while digit(k) { k += 1 }
            integral = false
        }
        if k < bytes.count, bytes[k] == 0x65 || bytes[k] == 0x45 {
            k += 1
            if k < bytes.count, bytes[k] == 0x2B || bytes[k] == 0x2D { k += 1 }
            guard digit(k) else { return nil }
            while digit(k) { k += 1 }
            integral = false
        }
        return (k, integral)
    }

    /// A number at the cursor as an `Int`, the way Foundation's decoder gives one: integral
    /// values in range (`1.0e3` is 1000); `.none` for other numbers (cursor moved past them),
    /// nil when the bytes are not a number (cursor unmoved).
    private mutating func integer() -> Int?? {
        guard let token = numberToken() else { return nil }
        let text = String(decoding: bytes[i..<token.end], as: UTF8.self)
        i = token.end
        if token.integral { return .some(Int(text)) }
        guard let d = Double(text), d.rounded() == d, abs(d) < 9.2e18 else { return .some(nil) }
        return .some(Int(d))
    }

    private static let literals: [[UInt8]] = [Array("true".utf8), Array("false".utf8), Array("null".utf8)]

    /// Skips any JSON value at the cursor; false when malformed.
    private mutating func skipValue() -> Bool {
        skipSpace()
        guard i < bytes.count else { return false }
        switch bytes[i] {
        case 0x22: return skipString()
        case 0x7B, 0x5B:
            let close: UInt8 = bytes[i] == 0x7B ? 0x7D : 0x5D
            let isObject = bytes[i] == 0x7B
            i += 1
            if take(close) { return true }
            repeat {
                if isObject { guard skipString(), take(0x3A) else { return false } }
                if !skipValue() { return false }
            } while take(0x2C)
            return take(close)
        default:
            if let token = numberToken() { i = token.end; return true }
            for word in Self.literals where i + word.count <= bytes.count && bytes[i..<i + word.count].elementsEqual(word) {
                i += word.count
                return true
            }
            return false
        }
    }
}
