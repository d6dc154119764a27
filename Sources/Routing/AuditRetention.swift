import Foundation
import Postgres

/// Audit retention and partitions, through the owner's functions of migration 12 (the
/// application's role cannot delete audit rows itself): monthly partitions made ahead, and rows
/// past their tenant's retention (never under 90 days) removed — whole months when every tenant's
/// retention has passed them — with each cut chain's boundary kept so it still verifies.
public struct AuditRetention: Sendable {
    public let postgres: PostgresClient

    public init(postgres: PostgresClient) { self.postgres = postgres }

    /// Makes sure this month's and the next `months - 1` months' partitions exist; returns how
    /// many were created.
    @discardableResult
    public func preparePartitions(months: Int = 3) async throws -> Int {
        try await postgres.query("SELECT switchboard_audit_partitions(current_date, $1) AS n", [String(months)]).value(0, "n").flatMap { Int($0) } ?? 0
    }

    /// Removes what is past retention; returns the number of rows removed (each removal is in
    /// `audit_retention_runs`).
    @discardableResult
    public func run() async throws -> Int {
        try await preparePartitions()
        return try await postgres.query("SELECT switchboard_audit_retain() AS n").value(0, "n").flatMap { Int($0) } ?? 0
    }
}
