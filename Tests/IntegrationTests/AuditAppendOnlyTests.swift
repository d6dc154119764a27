import Foundation
import Postgres
import Schema
import Testing

/// The audit trail can be added to and read, never changed: UPDATE, DELETE and TRUNCATE are
/// refused by the database itself, except inside the retention job's transaction.
@Suite(.needsServers) struct AuditAppendOnlyTests {
    @Test func auditRowsCannotBeChangedOrRemovedExceptByRetention() async throws {
        let pg = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(pg)
        try await pg.query("""
            INSERT INTO routing_audit (tenant_id, seq, stored_at, entry_id, kind, call_id, caller_index, at, sealed, prev_hash, hash)
            VALUES ('acme', 1, now(), '1-0', 'decision', 'c1', '00000000000000000000000000000001', now(), 's', 'p', 'h'), ('acme', 2, now(), '2-0', 'decision', 'c2', '00000000000000000000000000000002', now(), 's', 'h', 'h2')
            """)
        try await pg.query("""
            INSERT INTO routing_rule_changes (tenant_id, actor, action, version, after) VALUES ('acme', 'ada', 'save', 1, '{}')
            """)
        for statement in ["UPDATE routing_audit SET caller_index = '000000000000000000000000000000ff'", "DELETE FROM routing_audit WHERE entry_id = '1-0'",
                          "TRUNCATE routing_audit", "UPDATE routing_rule_changes SET actor = 'mallory'", "DELETE FROM routing_rule_changes",
                          "TRUNCATE routing_rule_changes"] {
            do {
                try await pg.query(statement)
                Issue.record("accepted: \(statement)")
            } catch {
                #expect("\(error)".contains("append-only"), "\(statement): \(error)")
            }
        }
        #expect(try await pg.query("SELECT count(*) AS n FROM routing_audit WHERE caller_index <> '000000000000000000000000000000ff'").value(0, "n") == "2")
        #expect(try await pg.query("SELECT actor FROM routing_rule_changes").value(0, "actor") == "ada")
        // The retention job says who it is, in its own transaction only.
        try await pg.transaction { tx in
            _ = try tx.query("SET LOCAL switchboard.audit_retention = 'on'")
            _ = try tx.query("DELETE FROM routing_audit WHERE entry_id = '1-0'")
        }
        #expect(try await pg.query("SELECT count(*) AS n FROM routing_audit").value(0, "n") == "1")
        await #expect(throws: (any Error).self) { try await pg.query("DELETE FROM routing_audit") }
        try await TestServers.dropSchema(pg)
    }

    @Test func theApplicationRoleMayOnlyAddToAndReadTheAuditTables() async throws {
        let pg = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(pg)
        #expect(try await SchemaMigrations.grantApplication(role: "switchboard_app", pg), "ops/lib.sh made the role")
        #expect(try await !SchemaMigrations.grantApplication(role: "no_such_role", pg))
        await #expect(throws: PostgresError.self) { try await SchemaMigrations.grantApplication(role: "x; DROP TABLE users", pg) }
        let app = PostgresClient(PostgresConfiguration(url: TestServers.postgresURL.replacingOccurrences(of: "://switchboard@", with: "://switchboard_app@"),
                                                       poolSize: 1, schema: pg.configuration.schema))
        try await app.query("""
            INSERT INTO routing_audit (tenant_id, seq, stored_at, entry_id, kind, call_id, caller_index, at, sealed, prev_hash, hash)
            VALUES ('acme', 1, now(), '1-0', 'decision', 'c1', '00000000000000000000000000000001', now(), 's', 'p', 'h')
            """)
        // Partitions are made (and retention runs) through the owner's functions, never directly.
        #expect(try await app.query("SELECT switchboard_audit_partitions(current_date, 4) AS n").value(0, "n") == "1")
        try await app.query("INSERT INTO tenants (id, name) VALUES ('acme', 'Acme')")
        try await app.query("UPDATE tenants SET name = 'Acme Inc' WHERE id = 'acme'")
        #expect(try await app.query("SELECT count(*) AS n FROM routing_audit").value(0, "n") == "1")
        // Not even with the retention flag: the privilege is missing before any trigger runs.
        let partition = "routing_audit_" + String(ISO8601DateFormatter().string(from: Date()).prefix(7)).replacingOccurrences(of: "-", with: "_")
        for statement in ["UPDATE routing_audit SET caller_index = '000000000000000000000000000000ff'", "DELETE FROM routing_audit", "DELETE FROM \(partition)", "TRUNCATE \(partition)",
                          "INSERT INTO audit_chain_anchors (chain, tenant_id, seq, hash) VALUES ('routing_audit', 'acme', 9, 'x')", "TRUNCATE routing_audit", "DELETE FROM user_actions",
                          "ALTER TABLE user_actions DISABLE TRIGGER user_actions_append_only", "DROP TABLE routing_rule_changes",
                          "DELETE FROM schema_migrations"] {
            do {
                try await app.transaction { tx in
                    _ = try tx.query("SET LOCAL switchboard.audit_retention = 'on'")
                    _ = try tx.query(statement)
                }
                Issue.record("the application role could: \(statement)")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42501", "\(statement): \(error)")
            }
        }
        await app.shutdown()
        try await TestServers.dropSchema(pg)
    }
}
