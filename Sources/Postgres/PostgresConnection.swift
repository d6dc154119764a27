import BlockingIO
import CLibPQ

/// One blocking libpq connection. It owns the `PGconn` and closes it.
///
/// Only `PostgresClient` uses it, on its own thread pool, one thread at a time
/// (hence `@unchecked Sendable`). Parameters are always bound, never spliced into SQL.
public final class PostgresConnection: PooledConnection, @unchecked Sendable {
    private let connection: OpaquePointer
    /// Set once the server connection is gone; the pool then drops it.
    public var isBroken: Bool { PQstatus(connection) != CONNECTION_OK }

    private init(_ connection: OpaquePointer) { self.connection = connection }

    deinit { PQfinish(connection) }

    /// Connects with a libpq conninfo string or `postgresql://` URL.
    public static func connect(_ conninfo: String) throws -> PostgresConnection {
        guard let raw = PQconnectdb(conninfo) else { throw PostgresError(.connection, "cannot allocate a connection") }
        let connection = PostgresConnection(raw)
        guard PQstatus(raw) == CONNECTION_OK else {
            throw PostgresError(.connection, connection.lastError)
        }
        PQsetNoticeProcessor(raw, { _, _ in }, nil) // NOTICEs ("already exists, skipping") are not errors
        return connection
    }

    /// Runs one statement with `$1, $2, …` parameters bound as text (nil is SQL NULL).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PostgresRows {
        let result = withParameters(parameters) { values, lengths in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, lengths, nil, 0)
        }
        return try consume(result)
    }

    /// Runs SQL text without parameters (several statements allowed): for migrations only.
    public func execute(script: String) throws {
        _ = try consume(PQexec(connection, script))
    }

    /// Streams rows into `COPY table (columns) FROM STDIN` in text format, in one round trip.
    @discardableResult
    public func copy(into table: String, columns: [String], rows: [[String?]]) throws -> Int {
        let sql = "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN"
        let start = PQexec(connection, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try consume(start)
            throw PostgresError(.copy, "server did not enter COPY mode")
        }
        PQclear(start)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(rows.count * 256)
        for row in rows {
            for (i, field) in row.enumerated() {
                if i > 0 { buffer.append(0x09) }
                Self.appendCopyField(field, to: &buffer)
            }
            buffer.append(0x0A)
        }
        let sent = buffer.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { PQputCopyData(connection, $0, Int32(b.count)) }
        }
        guard sent == 1, PQputCopyEnd(connection, nil) == 1 else {
            throw PostgresError(.copy, lastError)
        }
        var copied = 0
        while let result = PQgetResult(connection) {
            let rows = try consume(result)
            copied = rows.affected
        }
        return copied
    }

    /// Begins a transaction, runs `body`, commits; rolls back when `body` throws.
    public func transaction<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
        try query("BEGIN")
        do {
            let result = try body(self)
            try query("COMMIT")
            return result
        } catch {
            if !isBroken { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    private var lastError: String {
        String(cString: PQerrorMessage(connection)).trimmingSuffixWhitespace
    }

    private func consume(_ result: OpaquePointer?) throws -> PostgresRows {
        guard let result else { throw PostgresError(.connection, lastError) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN:
            return PostgresRows(columns: [], rows: [], affected: Int(String(cString: PQcmdTuples(result))) ?? 0)
        case PGRES_TUPLES_OK:
            let columnCount = PQnfields(result)
            let rowCount = PQntuples(result)
            let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
            var rows: [[String?]] = []
            rows.reserveCapacity(Int(rowCount))
            for r in 0..<rowCount {
                rows.append((0..<columnCount).map { c in
                    PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c))
                })
            }
            return PostgresRows(columns: columns, rows: rows, affected: Int(rowCount))
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingSuffixWhitespace
            if isBroken { throw PostgresError(.connection, message.isEmpty ? lastError : message, sqlState: state) }
            throw PostgresError(.query, message, sqlState: state)
        }
    }

    private func withParameters<R>(_ parameters: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?) -> R) -> R {
        var storage: [UInt8] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        for parameter in parameters {
            guard let parameter else { offsets.append(nil); lengths.append(0); continue }
            offsets.append(storage.count)
            let before = storage.count
            storage.append(contentsOf: parameter.utf8)
            lengths.append(Int32(storage.count - before))
            storage.append(0)
        }
        storage.append(0)
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { $0.map { base + $0 } }
            return pointers.withUnsafeBufferPointer { p in
                lengths.withUnsafeBufferPointer { l in body(p.baseAddress, l.baseAddress) }
            }
        }
    }

    private static func appendCopyField(_ field: String?, to buffer: inout [UInt8]) {
        guard var field else { buffer.append(0x5C); buffer.append(0x4E); return } // \N
        field.withUTF8 { bytes in
            // The usual case: nothing to escape, one copy of the bytes.
            if !bytes.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                buffer.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case 0x5C: buffer.append(0x5C); buffer.append(0x5C)
                case 0x09: buffer.append(0x5C); buffer.append(0x74)
                case 0x0A: buffer.append(0x5C); buffer.append(0x6E)
                case 0x0D: buffer.append(0x5C); buffer.append(0x72)
                default: buffer.append(byte)
                }
            }
        }
    }
}

extension String {
    var trimmingSuffixWhitespace: String {
        var s = self
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}
