import Basics
import Crypto
import Postgres

/// The hash chain that makes an audit log tamper-evident: each row carries the SHA-256 of the
/// previous row's hash and its own canonical content, so changing, removing or inserting a row
/// anywhere breaks every later link. Pure; the stores decide what a row's fields are.
public enum AuditChain {
    /// The `previous` of a chain's first row.
    public static let genesis = String(repeating: "0", count: 64)

    /// The canonical bytes of a row's fields: each field as its UTF-8 length, `:`, the bytes,
    /// and a newline, so no two different field lists share a form (`["ab","c"]` ≠ `["a","bc"]`).
    public static func canonical(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count + 8 })
        for var field in fields {
            field.withUTF8 { bytes in
                out.append(contentsOf: String(bytes.count).utf8)
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: bytes)
                out.append(UInt8(ascii: "\n"))
            }
        }
        return out
    }

    /// The hash of a row: hex SHA-256 of `previous` then the row's canonical content.
    public static func hash(previous: String, fields: [String]) -> String {
        var hasher = SHA256()
        var previous = previous
        previous.withUTF8 { hasher.update(data: UnsafeRawBufferPointer($0)) }
        hasher.update(data: canonical(fields))
        return hasher.finalize().withUnsafeBytes { Hex.encode($0) }
    }

    /// One stored row as the verifier sees it.
    public struct Link: Sendable, Equatable {
        public let id: Int
        public let seq: Int
        public let fields: [String]
        public let previous: String
        public let hash: String

        public init(id: Int, seq: Int, fields: [String], previous: String, hash: String) {
            self.id = id
            self.seq = seq
            self.fields = fields
            self.previous = previous
            self.hash = hash
        }
    }

    /// Where a chain stops matching.
    public struct Break: Sendable, Equatable, Codable {
        public let id: Int
        public let seq: Int
        public let reason: String
    }

    /// The result of checking one tenant's chain.
    public struct Verification: Sendable, Codable, Equatable {
        public let tenant: String?
        /// Rows that matched before the first break (all of them when there is none).
        public let rows: Int
        public let firstBreak: Break?

        public init(tenant: String?, rows: Int, firstBreak: Break?) {
            self.tenant = tenant
            self.rows = rows
            self.firstBreak = firstBreak
        }
    }

    /// Checks `links` (in order) continue a chain whose last verified row had `seq` `afterSeq`
    /// and hash `afterHash`. Returns the first row that does not match, or nil.
    public static func firstBreak(_ links: [Link], afterSeq: Int, afterHash: String) -> Break? {
        var seq = afterSeq, last = afterHash
        for link in links {
            if link.seq != seq + 1 {
                return Break(id: link.id, seq: link.seq, reason: "row \(seq + 1) is missing (found \(link.seq) next)")
            }
            if link.previous != last {
                return Break(id: link.id, seq: link.seq, reason: "its previous-hash does not match the row before it")
            }
            if hash(previous: link.previous, fields: link.fields) != link.hash {
                return Break(id: link.id, seq: link.seq, reason: "its content does not match its hash (changed after it was written)")
            }
            seq = link.seq
            last = link.hash
        }
        return nil
    }

    /// Checks one tenant's chain of `chain` (a table), from its retention anchor (or the start)
    /// on, a page at a time: `page(afterSeq)` returns the next rows in order, empty at the end.
    /// The tenant's name is reported nil when empty (the installation's chain).
    public static func verify(chain: String, tenant: String, postgres: PostgresClient,
                              page: (_ afterSeq: Int) async throws -> [Link]) async throws -> Verification {
        // After a retention cut the chain goes on from the last row removed (its anchor).
        let anchor = try await postgres.query("SELECT seq, hash FROM audit_chain_anchors WHERE chain = $1 AND tenant_id = $2", [chain, tenant])
        var seq = anchor.value(0, "seq").flatMap { Int($0) } ?? 0, hash = anchor.value(0, "hash") ?? genesis, rows = 0
        let name = tenant.isEmpty ? nil : tenant
        while true {
            let links = try await page(seq)
            guard let last = links.last else { break }
            if let broken = firstBreak(links, afterSeq: seq, afterHash: hash) {
                return Verification(tenant: name, rows: rows + links.prefix { $0.seq < broken.seq }.count, firstBreak: broken)
            }
            rows += links.count
            seq = last.seq
            hash = last.hash
        }
        return Verification(tenant: name, rows: rows, firstBreak: nil)
    }
}
