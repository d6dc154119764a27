import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// `simulator smtp`: a mail relay speaking enough SMTP (RFC 5321) for alert emails: 220 greeting,
/// EHLO/HELO, MAIL FROM, RCPT TO, DATA (dot-unstuffed, ended by a lone "."), RSET, NOOP, QUIT;
/// 503 for commands out of order, 500 for unknown ones. Each message is written to the mailbox
/// folder as JSON (`from`, `to`, `data`). `--hostile KIND` makes it a broken or malicious relay:
/// `garbage` (a greeting of NUL bytes and invalid UTF-8), `reject` (554 at once), `silent` (never
/// greets), `huge-line` (an endless line of 1 MiB chunks), `drip` (its greeting one byte per 100 ms).
struct SMTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "smtp", abstract: "Simulated SMTP relay (messages saved as JSON files).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "Folder the received messages are written to.") var mailbox: String
    @Option(help: "Behave as a hostile relay: garbage, reject, silent, huge-line or drip.") var hostile: String?

    func validate() throws {
        if let hostile, !["garbage", "reject", "silent", "huge-line", "drip"].contains(hostile) {
            throw ValidationError("--hostile must be garbage, reject, silent, huge-line or drip")
        }
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: mailbox, withIntermediateDirectories: true)
        let mailbox = self.mailbox
        if let hostile = self.hostile {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HostileSMTP(kind: hostile)) }
                }
                .bind(host: "127.0.0.1", port: port).get()
            if let portFile, let bound = server.localAddress?.port { try String(bound).write(toFile: portFile, atomically: true, encoding: .utf8) }
            try await server.closeFuture.get()
            return
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLines()))
                    try channel.pipeline.syncOperations.addHandler(SMTPSession(mailbox: mailbox))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        if let portFile, let bound = server.localAddress?.port { try String(bound).write(toFile: portFile, atomically: true, encoding: .utf8) }
        try await server.closeFuture.get()
    }
}

/// Lines of an SMTP session, without their CR LF.
struct SMTPLines: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = String
    mutating func decode(buffer: inout ByteBuffer) throws -> String? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        guard var line = buffer.readString(length: newline - buffer.readerIndex) else { return nil }
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }
    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> String? { try decode(buffer: &buffer) }
}

/// One client's conversation.
final class SMTPSession: ChannelInboundHandler {
    typealias InboundIn = String
    typealias OutboundOut = ByteBuffer

    let mailbox: String
    var greeted = false
    var from: String?
    var to: [String] = []
    var data: [String]?

    init(mailbox: String) { self.mailbox = mailbox }

    func channelActive(context: ChannelHandlerContext) { reply(context, "220 switchboard-sim ESMTP ready") }

    func reply(_ context: ChannelHandlerContext, _ text: String) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data incoming: NIOAny) {
        let line = unwrapInboundIn(incoming)
        if var body = data {
            if line == "." {
                save()
                data = nil
                from = nil
                to = []
                reply(context, "250 OK: queued")
            } else {
                body.append(line.hasPrefix("..") ? String(line.dropFirst()) : line)
                data = body
            }
            return
        }
        let verb = line.prefix(4).uppercased()
        switch verb {
        case "EHLO", "HELO":
            greeted = true
            reply(context, "250-switchboard-sim\r\n250 8BITMIME")
        case "MAIL":
            guard greeted else { return reply(context, "503 send EHLO first") }
            guard let address = Self.address(line, after: "MAIL FROM:") else { return reply(context, "501 syntax: MAIL FROM:<address>") }
            from = address
            reply(context, "250 OK")
        case "RCPT":
            guard from != nil else { return reply(context, "503 need MAIL first") }
            guard let address = Self.address(line, after: "RCPT TO:") else { return reply(context, "501 syntax: RCPT TO:<address>") }
            to.append(address)
            reply(context, "250 OK")
        case "DATA":
            guard from != nil, !to.isEmpty else { return reply(context, "503 need MAIL and RCPT first") }
            data = []
            reply(context, "354 end data with <CR><LF>.<CR><LF>")
        case "RSET":
            from = nil
            to = []
            reply(context, "250 OK")
        case "NOOP": reply(context, "250 OK")
        case "QUIT":
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "221 bye\r\n"))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default: reply(context, "500 unknown command")
        }
    }

    static func address(_ line: String, after prefix: String) -> String? {
        guard line.uppercased().hasPrefix(prefix), let open = line.firstIndex(of: "<"), let close = line.lastIndex(of: ">"), open < close else { return nil }
        let address = String(line[line.index(after: open)..<close])
        return address.contains("@") ? address : nil
    }

    func save() {
        let message: [String: Any] = ["from": from ?? "", "to": to, "data": (data ?? []).joined(separator: "\n")]
        guard let json = try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys]) else { return }
        let name = "\(Int(Date().timeIntervalSince1970 * 1000))-\(UUID().uuidString.prefix(8)).json"
        _ = FileManager.default.createFile(atPath: (mailbox as NSString).appendingPathComponent(name), contents: json)
    }
}

/// A relay that answers what no relay should (see `SMTPCommand`'s `--hostile`).
final class HostileSMTP: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let kind: String

    init(kind: String) { self.kind = kind }

    func channelActive(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        switch kind {
        case "garbage":
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [0x00, 0xFF, 0xFE, 0x32, 0x32, 0x30, 0x00, 0xC0, 0x0D, 0x0A])), promise: nil)
        case "reject":
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "554 no service for you\r\n")), promise: nil)
        case "huge-line":
            let chunk = ByteBuffer(repeating: UInt8(ascii: "2"), count: 1 << 20)
            let sendable = NIOLoopBound(context, eventLoop: loop)
            func more(_ left: Int) {
                guard left > 0 else { return }
                sendable.value.writeAndFlush(wrapOutboundOut(chunk)).assumeIsolated().whenSuccess { more(left - 1) }
            }
            more(64)
        case "drip":
            let sendable = NIOLoopBound(context, eventLoop: loop)
            let greeting = Array("220 slow relay\r\n".utf8)
            for (i, byte) in greeting.enumerated() {
                loop.scheduleTask(in: .milliseconds(Int64(100 * (i + 1)))) {
                    sendable.value.writeAndFlush(NIOAny(ByteBuffer(bytes: [byte])), promise: nil)
                }
            }
        default: break // silent: never a word
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {} // whatever the client says
}
