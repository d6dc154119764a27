import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ServerTLS

/// `simulator smtp`: a mail relay speaking enough SMTP (RFC 5321) for alert emails: 220 greeting,
/// EHLO/HELO, STARTTLS (RFC 3207, offered when SB_TLS_CERT_FILE / SB_TLS_KEY_FILE are set),
/// AUTH PLAIN (RFC 4954, required when `--username` is given, and only after STARTTLS when TLS is
/// offered), MAIL FROM, RCPT TO, DATA (dot-unstuffed, ended by a lone "."), RSET, NOOP, QUIT;
/// 503 for commands out of order, 500 for unknown ones. Each message is written to the mailbox
/// folder as JSON (`from`, `to`, `data`, `tls`, `user`). `--hostile KIND` makes it a broken or malicious relay:
/// `garbage` (a greeting of NUL bytes and invalid UTF-8), `reject` (554 at once), `silent` (never
/// greets), `huge-line` (an endless line of 1 MiB chunks), `drip` (its greeting one byte per 100 ms).
struct SMTPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "smtp", abstract: "Simulated SMTP relay (messages saved as JSON files).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "Folder the received messages are written to.") var mailbox: String
    @Option(help: "Behave as a hostile relay: garbage, reject, silent, huge-line or drip.") var hostile: String?
    @Option(help: "Require AUTH PLAIN with this user name (and --password).") var username: String?
    @Option(help: "The password AUTH must present.") var password: String?

    func validate() throws {
        if let hostile, !["garbage", "reject", "silent", "huge-line", "drip"].contains(hostile) {
            throw ValidationError("--hostile must be garbage, reject, silent, huge-line or drip")
        }
        guard (username == nil) == (password == nil) else { throw ValidationError("give --username and --password together") }
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: mailbox, withIntermediateDirectories: true)
        let mailbox = self.mailbox
        let login = username.map { SMTPSession.Login(user: $0, password: password ?? "") }
        let tls = try ServerTLS.fromEnvironment()?.makeContext()
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
                    try channel.pipeline.syncOperations.addHandler(SMTPSession(mailbox: mailbox, tls: tls, login: login))
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

    /// The credentials AUTH must present.
    struct Login: Sendable {
        let user: String
        let password: String
    }

    let mailbox: String
    /// STARTTLS is offered with this context; nil: plain only.
    let tls: NIOSSLContext?
    let login: Login?
    var greeted = false
    var secured = false
    var authenticatedUser: String?
    /// AUTH PLAIN sent without its response: the next line is the base64 response.
    var awaitingAuth = false
    var from: String?
    var to: [String] = []
    var data: [String]?

    init(mailbox: String, tls: NIOSSLContext? = nil, login: Login? = nil) {
        self.mailbox = mailbox
        self.tls = tls
        self.login = login
    }

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
        if awaitingAuth {
            awaitingAuth = false
            return authenticate(context, line)
        }
        let verb = line.prefix(4).uppercased()
        switch verb {
        case "EHLO", "HELO":
            greeted = true
            var extensions = ["8BITMIME"]
            if tls != nil, !secured { extensions.append("STARTTLS") }
            if login != nil, secured || tls == nil { extensions.append("AUTH PLAIN") }
            reply(context, (["switchboard-sim"] + extensions).enumerated()
                .map { $0.offset == extensions.count ? "250 \($0.element)" : "250-\($0.element)" }.joined(separator: "\r\n"))
        case "STAR":
            guard line.uppercased() == "STARTTLS", let tls, !secured else { return reply(context, "502 STARTTLS not offered") }
            // RFC 3207: the reply goes out in clear, then the TLS handshake starts; the session
            // starts over (EHLO again).
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "220 ready to start TLS\r\n"))).assumeIsolated().whenSuccess {
                try? channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            }
            secured = true
            greeted = false
            from = nil
            to = []
        case "AUTH":
            guard login != nil else { return reply(context, "502 AUTH not offered") }
            guard secured || tls == nil else { return reply(context, "538 encryption required for requested authentication mechanism") }
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[1].uppercased() == "PLAIN" else { return reply(context, "504 only AUTH PLAIN") }
            if parts.count == 2 {
                awaitingAuth = true
                return reply(context, "334 ")
            }
            authenticate(context, String(parts[2]))
        case "MAIL":
            guard greeted else { return reply(context, "503 send EHLO first") }
            guard login == nil || authenticatedUser != nil else { return reply(context, "530 authentication required") }
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

    /// Checks an AUTH PLAIN response: base64 of "authzid NUL user NUL password".
    func authenticate(_ context: ChannelHandlerContext, _ response: String) {
        guard let login, let decoded = Data(base64Encoded: response) else { return reply(context, "501 malformed AUTH response") }
        let fields = decoded.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count == 3, fields[1] == login.user, fields[2] == login.password else {
            return reply(context, "535 authentication credentials invalid")
        }
        authenticatedUser = login.user
        reply(context, "235 authentication successful")
    }

    static func address(_ line: String, after prefix: String) -> String? {
        guard line.uppercased().hasPrefix(prefix), let open = line.firstIndex(of: "<"), let close = line.lastIndex(of: ">"), open < close else { return nil }
        let address = String(line[line.index(after: open)..<close])
        return address.contains("@") ? address : nil
    }

    func save() {
        let message: [String: Any] = ["from": from ?? "", "to": to, "data": (data ?? []).joined(separator: "\n"),
                                      "tls": secured, "user": authenticatedUser ?? ""]
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
