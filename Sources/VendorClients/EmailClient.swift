import Curl
import Foundation
import RoutingCore

/// Alert email through a tenant's `email` integration: base URL `smtp://host:port` (STARTTLS
/// when offered; setting `tls=required` insists on it) or `smtps://host:port`; settings `from`
/// and `to` (comma-separated); credentials `user:password` for SMTP AUTH, or `none`.
public struct EmailClient: Sendable {
    public let sender: MailSender

    public init(sender: MailSender) { self.sender = sender }

    /// Sends a plain-text email to the integration's recipients.
    public func send(subject: String, body: String, integration: RoutingIntegration, credentials: String) async throws {
        let from = integration.settings["from"] ?? ""
        let to = Self.recipients(integration.settings["to"] ?? "")
        let login = Self.login(credentials)
        let relay = MailRelay(url: integration.baseURL, username: login?.user, password: login?.password,
                              requireTLS: integration.settings["tls"] == "required")
        let text = Self.message(from: from, to: to, subject: subject, body: body, date: Date(), messageId: "\(UUID().uuidString)@switchboard")
        try await sender.send(MailMessage(from: from, to: to, text: text), via: relay)
    }

    /// The addresses of a comma-separated list.
    public static func recipients(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `user:password` credentials; nil for `none` or an empty text.
    static func login(_ credentials: String) -> (user: String, password: String)? {
        let text = credentials.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.lowercased() != "none", let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The RFC 5322 message: From, To, Subject (line breaks removed), Date, Message-ID, a
    /// UTF-8 plain-text body; every line ends with CR LF.
    public static func message(from: String, to: [String], subject: String, body: String, date: Date, messageId: String) -> String {
        let oneLine = subject.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        var text = "From: \(from)\r\nTo: \(to.joined(separator: ", "))\r\nSubject: \(oneLine)\r\nDate: \(rfc5322Date(date))\r\n"
        text += "Message-ID: <\(messageId)>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            text += (line.hasSuffix("\r") ? String(line.dropLast()) : String(line)) + "\r\n"
        }
        return text
    }

    /// A date as RFC 5322 writes it: `Tue, 01 Dec 2026 09:11:17 +0000` (UTC).
    public static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}
