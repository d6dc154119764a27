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

    /// Performs `request`, blocking the calling thread.
    func perform(_ request: HTTPRequest, defaultConnectTimeoutMs: Int, defaultTimeoutMs: Int) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let sink = ResponseSink()
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
        sb_curl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
        sb_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList)
        sb_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, { data, size, count, user in
            let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
            data!.withMemoryRebound(to: UInt8.self, capacity: length) { sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
            return length
        })
        sb_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, sinkPointer)
        sb_curl_setopt_write(handle, CURLOPT_HEADERFUNCTION, { data, size, count, user in
            let sink = Unmanaged<ResponseSink>.fromOpaque(user!).takeUnretainedValue()
            let length = size * count
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
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
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
