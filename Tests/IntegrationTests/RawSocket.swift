import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP exchange for tests that need exact bytes on the wire (HTTP pipelining).
enum RawSocket {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Connects to 127.0.0.1:`port`, writes `send` (in one write, or in `pieces` writes
    /// `pauseMs` apart), and reads until `until` holds for what arrived, the peer closes, or 5 s pass.
    /// Blocking: call from a test, not an event loop.
    static func exchange(port: Int, send: String, pieces: Int = 1, pauseMs: Int = 5, until: (String) -> Bool) throws -> String {
        try talk(port: port, send: send, pieces: pieces, pauseMs: pauseMs, until: until).reply
    }

    /// Writes `send` and reads until the peer closes the connection (`closed`) or 5 s pass.
    static func exchangeUntilClosed(port: Int, send: String) throws -> (reply: String, closed: Bool) {
        try talk(port: port, send: send, pieces: 1, pauseMs: 5, until: { _ in false })
    }

    private static func talk(port: Int, send: String, pieces: Int, pauseMs: Int, until: (String) -> Bool) throws -> (reply: String, closed: Bool) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw Failure(description: "cannot connect to port \(port)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(send.utf8)
        let size = max(1, (bytes.count + pieces - 1) / max(1, pieces))
        for start in stride(from: 0, to: bytes.count, by: size) {
            if start > 0 { usleep(UInt32(pauseMs) * 1000) }
            let piece = Array(bytes[start..<min(bytes.count, start + size)])
            // MSG_NOSIGNAL: a server that closes mid-request (a 408) must not kill the test run.
            let sent = piece.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 { break } // the peer closed: read what it answered
            guard sent == piece.count else { throw Failure(description: "short write") }
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var closed = false
        while !until(String(decoding: received, as: UTF8.self)) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { closed = n == 0; break }
            received.append(contentsOf: chunk[0..<n])
        }
        return (String(decoding: received, as: UTF8.self), closed)
    }
}
