import Foundation
import NIOCore
import NIOPosix

/// Sends one email over SMTP (RFC 5321: EHLO, MAIL FROM, RCPT TO, DATA with dot-stuffing,
/// QUIT) on a non-blocking SwiftNIO connection. For the integration alerts of the PRD (failure
/// rates, recoveries); plain SMTP on a relay the operator runs, no TLS or AUTH.
public struct SMTPClient: Sendable {
    public let host: String
    public let port: Int
    public let timeoutSeconds: Int64

    public init(host: String, port: Int, timeoutSeconds: Int64 = 10) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    /// A failure the relay reported (or a broken conversation).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `body` (plain text) from `from` to every address of `to`.
    public func send(from: String, to: [String], subject: String, body: String) async throws {
        for address in [from] + to where address.contains("\r") || address.contains("\n") || !address.contains("@") {
            throw Failure(description: "'\(address)' is not an email address")
        }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(timeoutSeconds))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
                    return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        // The whole exchange gets one deadline: closing the channel ends a stuck read.
        let deadline = channel.channel.eventLoop.scheduleTask(in: .seconds(timeoutSeconds)) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        try await channel.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            func reply(_ expected: Int) async throws {
                while true {
                    guard let line = try await lines.next() else { throw Failure(description: "\(host):\(port) closed the connection") }
                    let code = Int(line.prefix(3)) ?? 0
                    if line.count > 3 && line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue } // more lines follow
                    guard code == expected else { throw Failure(description: "\(host):\(port) answered '\(line)' (expected \(expected))") }
                    return
                }
            }
            func say(_ text: String) async throws { try await outbound.write(ByteBuffer(string: text + "\r\n")) }
            try await reply(220)
            try await say("EHLO switchboard")
            try await reply(250)
            try await say("MAIL FROM:<\(from)>")
            try await reply(250)
            for address in to {
                try await say("RCPT TO:<\(address)>")
                try await reply(250)
            }
            try await say("DATA")
            try await reply(354)
            let date = ISO8601DateFormatter().string(from: Date())
            var message = "From: \(from)\r\nTo: \(to.joined(separator: ", "))\r\nSubject: \(subject.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))\r\n"
            message += "Date: \(date)\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
                let text = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
                message += (text.hasPrefix(".") ? "." : "") + text + "\r\n" // dot-stuffing
            }
            try await outbound.write(ByteBuffer(string: message + ".\r\n"))
            try await reply(250)
            try await say("QUIT")
        }
    }
}

/// Splits SMTP replies into lines (CR LF or LF).
struct SMTPLineDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(buffer: inout ByteBuffer) throws -> String? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 64 * 1024 { throw SMTPClient.Failure(description: "reply line longer than 64 KiB") }
            return nil
        }
        let length = newline - buffer.readerIndex
        guard var line = buffer.readString(length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> String? { try decode(buffer: &buffer) }
}
