import Curl
import Foundation
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault

@testable import CRMWorker

/// Dialer polling is independent per tenant and per integration: a dialer that answers slowly
/// (or whose credentials cannot be opened) never holds back the others' capacity reads.
@Suite(.needsServers) struct DialerPollerTests {
    @Test func aSlowDialerNeverHoldsBackAnotherTenantsReads() async throws {
        let redis = TestServers.redis()
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let prefix = TestServers.uniquePrefix()
        let keys = RoutingKeys(prefix: prefix)
        let access = TenantAccess(redis: redis, postgres: postgres, keys: keys)
        let vault = CredentialVault(keyRing: try MasterKeyRing(keys: MasterKeyRing.generateEntry(id: "k1"), activeId: "k1"), postgres: postgres)
        let slow = try await SimulatorProcess("zendesk-talk", ["--token", "zd", "--email", "api@slow.example"])
        let fast = try await SimulatorProcess("dialfire", ["--tenant", "fast-co", "--line", "in-1", "--token", "df", "--limit", "1000/s"])
        defer { slow.child.kill(); fast.child.kill() }
        try await slow.post("/_sim/faults", #"{"latencyMs": 4000}"#)
        try await access.setIntegration(RoutingIntegration(tenant: "slow-co", id: "zendesk", kind: .zendeskTalk, baseURL: slow.url,
                                                           settings: ["email": "api@slow.example"]), credentials: "zd", vault: vault)
        try await access.setIntegration(RoutingIntegration(tenant: "fast-co", id: "dialfire", kind: .dialfire, baseURL: fast.url,
                                                           settings: ["tenant": "fast-co", "line": "in-1"]), credentials: "df", vault: vault)
        let http = HTTPClient(maxConnections: 4)
        let poller = DialerPoller(access: access, vault: vault, http: http, intervalMs: 200)
        let running = Task { try await poller.run() }
        // Readings of the fast dialer keep coming while the slow one takes 4 s (twice) per read.
        var stamps = Set<String>()
        let until = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < until {
            if let value = try await redis.send(["HGET", keys.capacity("fast-co"), "dialfire"]).string { stamps.insert(value) }
            try await Task.sleep(for: .milliseconds(100))
        }
        running.cancel()
        _ = try? await running.value
        #expect(stamps.count >= 5, "fast-co's capacity was read only \(stamps.count) times in 3 s")
        await http.shutdown()
        try await TestServers.cleanup(prefix: prefix, redis: redis)
        try await TestServers.dropSchema(postgres)
    }
}
