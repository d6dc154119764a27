#if canImport(Glibc)
import Glibc
#endif

/// What outbound HTTP may reach, for URLs that customers supply (callback URLs, credential and
/// integration base URLs) and our own alike: https only unless `allowHTTP`; hosts that resolve
/// to loopback, private, link-local, shared (CGNAT), multicast or unspecified addresses are
/// refused unless `allowedHosts` names them (the demo and the tests name the local simulators).
/// The address checked is the address connected to (it is pinned for the request), so a DNS
/// answer that changes between check and connect cannot slip through.
public struct OutboundPolicy: Sendable, Equatable {
    /// Plain http is allowed (the demo's simulators); otherwise https only.
    public var allowHTTP: Bool
    /// Host names or literal addresses that may resolve to internal addresses.
    public var allowedHosts: Set<String>
    /// No address check at all (in-process tests and tools that only talk to their own servers).
    public var checksAddresses: Bool
    /// A PEM file of CA certificates trusted besides the system's (the local CA of the demo).
    /// Certificates are always verified, whatever this says.
    public var caFile: String?

    public init(allowHTTP: Bool = false, allowedHosts: Set<String> = [], checksAddresses: Bool = true, caFile: String? = nil) {
        self.allowHTTP = allowHTTP
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        self.checksAddresses = checksAddresses
        self.caFile = caFile
    }

    /// `self` also trusting the CA in `file` (nil leaves it as it is).
    public func trusting(_ file: String?) -> OutboundPolicy {
        var copy = self
        if let file { copy.caFile = file }
        return copy
    }

    /// Anything goes (http, any address): for tests and local tools.
    public static let open = OutboundPolicy(allowHTTP: true, checksAddresses: false)

    /// Why `url`'s scheme is refused; nil when it is allowed. A cheap check for input validation
    /// (the address check happens when the request is sent).
    public func schemeProblem(_ url: String) -> String? {
        let lower = url.lowercased()
        if lower.hasPrefix("https://") { return nil }
        if lower.hasPrefix("http://") { return allowHTTP ? nil : "must use https" }
        return "must be an https URL"
    }

    /// Whether an address of `host` may be connected to.
    func allows(_ address: IPAddress, host: String) -> Bool {
        !checksAddresses || allowedHosts.contains(host.lowercased()) || address.isPublic
    }
}

/// An IPv4 or IPv6 address, as resolved, with the ranges outbound calls must not reach.
enum IPAddress: Equatable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    /// Parses a literal address ("10.0.0.1", "::1"); nil for anything else.
    init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { self = .v4(UInt32(bigEndian: v4.s_addr)); return }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    var description: String {
        switch self {
        case .v4(let a): return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
        case .v6(let b):
            var copy = in6_addr()
            withUnsafeMutableBytes(of: &copy) { $0.copyBytes(from: b) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &copy, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Not loopback, private, link-local, CGNAT, multicast, reserved or unspecified.
    var isPublic: Bool {
        switch self {
        case .v4(let a):
            func within(_ net: UInt32, _ bits: UInt32) -> Bool { a >> (32 - bits) == net >> (32 - bits) }
            return !(within(0x0000_0000, 8) || within(0x0A00_0000, 8) || within(0x6440_0000, 10) || within(0x7F00_0000, 8)
                     || within(0xA9FE_0000, 16) || within(0xAC10_0000, 12) || within(0xC000_0000, 24) || within(0xC0A8_0000, 16)
                     || within(0xC612_0000, 15) || within(0xE000_0000, 4) || within(0xF000_0000, 4))
        case .v6(let b):
            if b.allSatisfy({ $0 == 0 }) { return false }                                    // ::
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return false }               // ::1
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {          // ::ffff:a.b.c.d
                return IPAddress.v4(UInt32(b[12]) << 24 | UInt32(b[13]) << 16 | UInt32(b[14]) << 8 | UInt32(b[15])).isPublic
            }
            if b[0] == 0xFF { return false }                                                  // multicast
            if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return false }                           // fe80::/10 link-local
            if b[0] & 0xFE == 0xFC { return false }                                           // fc00::/7 unique local
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false }  // documentation
            return true
        }
    }

    /// Every address `host` resolves to (blocking: call off the event loops).
    static func resolve(_ host: String) -> [IPAddress] {
        if let literal = IPAddress(host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host) { return [literal] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if info.pointee.ai_family == AF_INET, let raw = info.pointee.ai_addr {
                let a = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
                addresses.append(.v4(UInt32(bigEndian: a)))
            } else if info.pointee.ai_family == AF_INET6, let raw = info.pointee.ai_addr {
                var a = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                addresses.append(.v6(withUnsafeBytes(of: &a) { Array($0) }))
            }
            next = info.pointee.ai_next
        }
        return addresses
    }
}
