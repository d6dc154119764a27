import BlockingIO
import CHiredis
#if canImport(Glibc)
import Glibc
#endif

/// One blocking hiredis connection. It owns the `redisContext` and frees it.
///
/// Every call blocks the calling thread, so only `RedisClient` uses it, and only on
/// its own thread pool, one thread at a time (hence `@unchecked Sendable`).
public final class RedisConnection: PooledConnection, @unchecked Sendable {
    private let context: UnsafeMutablePointer<redisContext>
    private let commandTimeoutMs: Int
    /// Set once an I/O error or timeout leaves the connection unusable.
    public private(set) var isBroken = false

    private init(context: UnsafeMutablePointer<redisContext>, commandTimeoutMs: Int) {
        self.context = context
        self.commandTimeoutMs = commandTimeoutMs
    }

    deinit { redisFree(context) }

    /// Opens a TCP connection with connect and command timeouts.
    public static func connect(_ config: RedisConfiguration) throws -> RedisConnection {
        guard let ctx = redisConnectWithTimeout(config.host, Int32(config.port), timeval(ms: config.connectTimeoutMs)) else {
            throw RedisError(.connection, "cannot allocate a redis context")
        }
        if ctx.pointee.err != 0 {
            let message = errorString(ctx)
            redisFree(ctx)
            throw RedisError(.connection, "\(config.host):\(config.port): \(message)")
        }
        let connection = RedisConnection(context: ctx, commandTimeoutMs: config.commandTimeoutMs)
        redisSetTimeout(ctx, timeval(ms: config.commandTimeoutMs))
        if let auth = config.authCommand, case .error(let message) = try connection.send(auth) {
            // The reply names no secret (WRONGPASS / NOAUTH); the password is never repeated.
            throw RedisError(.server, "\(config.host):\(config.port): AUTH as \(config.username ?? "default") refused: \(message)")
        }
        return connection
    }

    /// Sends one command (argv, never a formatted string) and waits for its reply.
    /// Error replies are returned as `.error`, not thrown.
    public func send(_ args: [String]) throws -> RedisValue {
        try append(args)
        return try readReply()
    }

    /// Sends every command in one write, then reads every reply (pipelining).
    public func pipeline(_ commands: [[String]]) throws -> [RedisValue] {
        for command in commands { try append(command) }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try readReply()) }
        return replies
    }

    /// Runs `body` with a different read timeout (for blocking commands such as BLPOP).
    public func withTimeout<R>(ms: Int, _ body: () throws -> R) rethrows -> R {
        redisSetTimeout(context, timeval(ms: ms))
        defer { redisSetTimeout(context, timeval(ms: commandTimeoutMs)) }
        return try body()
    }

    private func append(_ args: [String]) throws {
        guard !isBroken else { throw RedisError(.connection, "connection is broken") }
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(args.count)
        lengths.reserveCapacity(args.count)
        for arg in args {
            offsets.append(bytes.count)
            let before = bytes.count
            bytes.append(contentsOf: arg.utf8)
            lengths.append(bytes.count - before)
        }
        bytes.append(0)
        let status: Int32 = bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAppendCommandArgv(context, Int32(args.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
        if status != REDIS_OK { throw brokenError() }
    }

    private func readReply() throws -> RedisValue {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw brokenError() }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private func brokenError() -> RedisError {
        isBroken = true
        let message = Self.errorString(context)
        let isTimeout = context.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
            || message.contains("Resource temporarily unavailable")
        return RedisError(isTimeout ? .timeout : .connection, message)
    }

    private static func errorString(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(r.str, r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(Int(r.elements))
            for i in 0..<Int(r.elements) {
                if let child = r.element[i] { items.append(convert(child)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

extension timeval {
    init(ms: Int) {
        self.init(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
    }
}
