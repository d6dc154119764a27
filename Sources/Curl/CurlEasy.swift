import BlockingIO
import CCurl

/// One libcurl easy handle. It owns the handle and keeps its connection cache between
/// requests (connection reuse); only `HTTPClient` uses it, on its own threads.
final class CurlEasy: PooledConnection, @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private(set) var isBroken = false

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    init() throws {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { throw HTTPClientError(.connection, "curl_easy_init failed") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// What one request may reach and receive.
    struct Limits {
        let policy: OutboundPolicy
        let maxResponseBytes: Int
        /// Response header bytes (all lines together).
        var maxHeaderBytes = 64 * 1024
    }

    /// Peers are verified (certificate chain and host name) on every TLS connection, against the
    /// system's CAs and, when given, the CAs in `caFile` too (the CA directory stays in use).
    static func verifyPeers(_ handle: UnsafeMutableRawPointer, caFile: String?) {
        sb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        sb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { sb_curl_setopt_ptr(handle, CURLOPT_CAINFO, caFile) }
    }

    /// The host and port `url` names, as libcurl itself parses it (no second parser to disagree
    /// with the one that connects).
    static func target(_ url: String) throws -> (scheme: String, host: String, port: Int) {
        guard let parsed = curl_url() else { throw HTTPClientError(.connection, "curl_url failed") }
        defer { curl_url_cleanup(parsed) }
        guard curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK else { throw HTTPClientError(.invalidRequest, "not a valid URL") }
        func part(_ which: CURLUPart, _ flags: UInt32 = 0) -> String? {
            var out: UnsafeMutablePointer<CChar>?
            guard curl_url_get(parsed, which, &out, flags) == CURLUE_OK, let out else { return nil }
            defer { curl_free(out) }
            return String(cString: out)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased(), let host = part(CURLUPART_HOST),
              let port = part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT)).flatMap({ Int($0) }) else {
            throw HTTPClientError(.invalidRequest, "URL without a host")
        }
        return (scheme, host, port)
    }

    /// Checks `url` against the policy; returns the `CURLOPT_RESOLVE` entry that pins the checked
    /// addresses (nil when the policy checks none).
    static func pinnedResolve(_ url: String, _ policy: OutboundPolicy) throws -> String? {
        let (scheme, host, port) = try target(url)
        guard scheme == "https" || (scheme == "http" && policy.allowHTTP) else {
            throw HTTPClientError(.refused, "\(scheme):// URLs are not allowed (https only)")
        }
        guard policy.checksAddresses else { return nil }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let addresses = IPAddress.resolve(bare)
        guard !addresses.isEmpty else { throw HTTPClientError(.connection, "cannot resolve \(bare)") }
        if let blocked = addresses.first(where: { !policy.allows($0, host: bare) }) {
            throw HTTPClientError(.refused, "\(bare) resolves to \(blocked), an internal address (not in SB_OUTBOUND_ALLOW_HOSTS)")
        }
        let list = addresses.map { address -> String in
            if case .v6 = address { return "[\(address)]" }
            return address.description
        }.joined(separator: ",")
        return "\(bare):\(port):\(list)"
    }

    /// Performs `request`, blocking the calling thread.
    func perform(_ request: HTTPRequest, defaultConnectTimeoutMs: Int, defaultTimeoutMs: Int, limits: Limits) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let pin = try Self.pinnedResolve(request.url, limits.policy)
        var resolveList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(resolveList) }
        if let pin { resolveList = curl_slist_append(nil, pin) }
        let sink = ResponseSink(maxBody: limits.maxResponseBytes, maxHeaders: limits.maxHeaderBytes)
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            guard !name.contains(where: { $0 == "\r" || $0 == "\n" || $0 == ":" }),
                  !value.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw HTTPClientError(.invalidRequest, "header \(name) contains a line break")
            }
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        headerList = curl_slist_append(headerList, "Expect:")

        sb_curl_setopt_ptr(handle, CURLOPT_URL, request.url)
        sb_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        sb_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeoutMs ?? defaultConnectTimeoutMs)
        sb_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeoutMs ?? defaultTimeoutMs)
        sb_curl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(limits.policy.allowHTTP ? CURLPROTO_HTTP | CURLPROTO_HTTPS : CURLPROTO_HTTPS))
        sb_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        sb_curl_setopt_long(handle, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        CurlEasy.verifyPeers(handle, caFile: limits.policy.caFile)
        sb_curl_setopt_long(handle, CURLOPT_MAXFILESIZE, limits.maxResponseBytes)
        if let resolveList { sb_curl_setopt_ptr(handle, CURLOPT_RESOLVE, resolveList) }
        sb_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)
        sb_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, { data, size, count, user in
            let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            guard sink.body.count + length <= sink.maxBody else { sink.overLimit = "response body over \(sink.maxBody) bytes"; return 0 }
            data!.withMemoryRebound(to: UInt8.self, capacity: length) { sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
            return length
        })
        sb_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, sinkPointer)
        sb_curl_setopt_write(handle, CURLOPT_HEADERFUNCTION, { data, size, count, user in
            let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            sink.headerBytes += length
            guard sink.headerBytes <= sink.maxHeaders else { sink.overLimit = "response headers over \(sink.maxHeaders) bytes"; return 0 }
            let line = data!.withMemoryRebound(to: UInt8.self, capacity: length) { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) }
            sink.headerLine(line)
            return length
        })
        sb_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, sinkPointer)

        let method = request.method.uppercased()
        if method == "HEAD" {
            sb_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
        } else if method != "GET" || request.body != nil {
            sb_curl_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, method)
        }
        let code: CURLcode
        if let body = request.body {
            sb_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            code = body.withUnsafeBytes { raw in
                sb_curl_setopt_ptr(handle, CURLOPT_POSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                return curl_easy_perform(handle)
            }
        } else {
            code = curl_easy_perform(handle)
        }
        if let over = sink.overLimit { throw HTTPClientError(.tooLarge, over) }
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            if code == CURLE_FILESIZE_EXCEEDED { throw HTTPClientError(.tooLarge, "response body over \(limits.maxResponseBytes) bytes") }
            switch code {
            case CURLE_OPERATION_TIMEDOUT: throw HTTPClientError(.timeout, message)
            case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: throw HTTPClientError(.invalidRequest, message)
            default: throw HTTPClientError(.connection, message)
            }
        }
        var status = 0
        sb_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }
}

/// Collects what libcurl's callbacks deliver for one request.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [(String, String)] = []
    let maxBody: Int
    let maxHeaders: Int
    var headerBytes = 0
    /// Set when the answer broke a limit (the transfer was aborted).
    var overLimit: String?

    init(maxBody: Int, maxHeaders: Int) {
        self.maxBody = maxBody
        self.maxHeaders = maxHeaders
    }

    func headerLine(_ line: String) {
        if line.hasPrefix("HTTP/") { headers = []; return } // a new response (after 100 Continue or a redirect)
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        var value = line[line.index(after: colon)...]
        while let f = value.first, f == " " || f == "\t" { value.removeFirst() }
        while let l = value.last, l.isNewline || l.isWhitespace { value.removeLast() }
        headers.append((name, String(value)))
    }
}
