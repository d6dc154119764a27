import BlockingIO
import CCurl
import Logging

/// One email to hand to an SMTP relay: the envelope (sender, recipients) and the message as
/// RFC 5322 text (headers, blank line, body; lines ended by CR LF).
public struct MailMessage: Sendable {
    public let from: String
    public let to: [String]
    public let text: String

    public init(from: String, to: [String], text: String) {
        self.from = from
        self.to = to
        self.text = text
    }
}

/// Where and how to deliver mail: `smtp://host:port` (STARTTLS when the relay offers it, or
/// always with `requireTLS`) or `smtps://host:port` (TLS from the start); AUTH with the
/// username and password when both are set. Certificates are always verified.
public struct MailRelay: Sendable {
    public let url: String
    public let username: String?
    public let password: String?
    public let requireTLS: Bool
    public let timeoutMs: Int

    public init(url: String, username: String? = nil, password: String? = nil, requireTLS: Bool = false, timeoutMs: Int = 10_000) {
        self.url = url
        self.username = username
        self.password = password
        self.requireTLS = requireTLS
        self.timeoutMs = timeoutMs
    }
}

/// Sends email with libcurl's SMTP (EHLO, STARTTLS, AUTH, MAIL FROM, RCPT TO, DATA with
/// dot-stuffing done by libcurl), on the pool's own threads, never on an event loop.
public final class MailSender: Sendable {
    private let pool: BlockingConnectionPool<CurlEasy>
    /// CAs trusted besides the system's for the relay's certificate (see `OutboundPolicy.caFile`).
    public let caFile: String?

    /// At most `maxConnections` messages in flight at once.
    public init(maxConnections: Int = 2, caFile: String? = nil, logger: Logger = Logger(label: "switchboard.mail")) {
        self.caFile = caFile
        self.pool = BlockingConnectionPool(size: maxConnections, logger: logger) { try CurlEasy() }
    }

    /// Stops the I/O threads.
    public func shutdown() async { await pool.shutdown() }

    /// Delivers `message` through `relay`; throws `HTTPClientError` with the relay's complaint.
    public func send(_ message: MailMessage, via relay: MailRelay) async throws {
        for address in [message.from] + message.to where address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) || !address.contains("@") {
            throw HTTPClientError(.invalidRequest, "'\(address)' is not an email address")
        }
        guard !message.to.isEmpty else { throw HTTPClientError(.invalidRequest, "an email needs at least one recipient") }
        let caFile = self.caFile
        try await pool.withConnection { easy in try easy.sendMail(message, via: relay, caFile: caFile) }
    }
}

extension CurlEasy {
    /// Performs one SMTP delivery, blocking the calling thread.
    func sendMail(_ message: MailMessage, via relay: MailRelay, caFile: String?) throws {
        let handle = self.handle
        curl_easy_reset(handle)
        var recipients: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(recipients) }
        for address in message.to { recipients = curl_slist_append(recipients, "<\(address)>") }
        let source = MailSource(Array(message.text.utf8))
        let sourcePointer = Unmanaged.passUnretained(source).toOpaque()

        sb_curl_setopt_ptr(handle, CURLOPT_URL, relay.url)
        sb_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        sb_curl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_SMTP | CURLPROTO_SMTPS))
        sb_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(relay.timeoutMs, 5000))
        sb_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, relay.timeoutMs)
        sb_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(relay.requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue))
        sb_curl_setopt_long(handle, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        CurlEasy.verifyPeers(handle, caFile: caFile)
        if let username = relay.username, let password = relay.password {
            sb_curl_setopt_ptr(handle, CURLOPT_USERNAME, username)
            sb_curl_setopt_ptr(handle, CURLOPT_PASSWORD, password)
        }
        sb_curl_setopt_ptr(handle, CURLOPT_MAIL_FROM, "<\(message.from)>")
        sb_curl_setopt_ptr(handle, CURLOPT_MAIL_RCPT, recipients)
        sb_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
        sb_curl_setopt_long(handle, CURLOPT_INFILESIZE, source.bytes.count)
        sb_curl_setopt_write(handle, CURLOPT_READFUNCTION, { buffer, size, count, user in
            let source = Unmanaged<MailSource>.fromOpaque(user!).takeUnretainedValue()
            let n = min(size * count, source.bytes.count - source.offset)
            guard n > 0, let buffer else { return 0 }
            source.bytes.withUnsafeBufferPointer { bytes in
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + source.offset, byteCount: n)
            }
            source.offset += n
            return n
        })
        sb_curl_setopt_ptr(handle, CURLOPT_READDATA, sourcePointer)
        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_OPERATION_TIMEDOUT: throw HTTPClientError(.timeout, "smtp: \(message)")
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: throw HTTPClientError(.invalidRequest, "smtp: \(message)")
            default:
                var status = 0
                sb_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
                throw HTTPClientError(.connection, status > 0 ? "smtp: \(message) (relay answered \(status))" : "smtp: \(message)")
            }
        }
    }
}

/// The message bytes libcurl's read callback hands out, in order.
private final class MailSource {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
