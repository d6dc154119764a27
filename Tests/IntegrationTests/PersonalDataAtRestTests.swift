import Foundation
import Postgres
import Redis
import Routing
import RoutingCore
import Schema
import Testing
import Vault

/// Personal data at rest in Redis: the lead cache names no phone number in its keys, seals
/// every field value, queues misses with the number sealed, and keeps the routers' copy of the
/// tenant's keys sealed with the master key; Redis's append-only file, read from disk, holds
/// neither the number nor a field value.
@Suite(.needsServers) struct PersonalDataAtRestTests {
    @Test func theLeadCacheHoldsNoPlainNumberOrFieldInRedisOrItsAppendOnlyFile() async throws {
        let redis = TestServers.redis()
        let postgres = try await TestServers.postgres()
        try await SchemaMigrations.migrator.migrate(postgres)
        let keys = RoutingKeys(prefix: TestServers.uniquePrefix())
        let ring = try MasterKeyRing(keys: MasterKeyRing.generateEntry(id: "k1"), activeId: "k1")
        let leads = LeadVault(vault: CredentialVault(keyRing: ring, postgres: postgres), redis: redis, keys: keys)
        let digits = String(format: "%07d", Int.random(in: 0..<10_000_000))
        let phone = try PhoneNumber(parsing: "+1555" + digits)
        let owner = "owner-\(UUID().uuidString.prefix(8).lowercased())@acme.example"
        try await leads.cache(tenant: "acme", phone: phone, fields: ["lead_owner": owner, "lead_score_tier": "hot"])
        let sealed = try await leads.leads("acme")

        // In Redis: the key ends in the blind index, the values are sealed and open to the fields.
        let key = sealed.leadKey(phone)
        #expect(!key.contains(digits))
        let raw = try await redis.send(["HGETALL", key]).hash
        #expect(Set(raw.keys) == [SealedLeads.field], "not even the field names show")
        let value = try #require(raw[SealedLeads.field])
        #expect(!value.contains(owner) && !value.contains("lead_owner"))
        #expect(sealed.open(value) == ["lead_owner": owner, "lead_score_tier": "hot"])
        // Caching more fields merges them into the one sealed value.
        try await leads.cache(tenant: "acme", phone: phone, fields: ["lead_score_tier": "warm", "region": "emea"])
        #expect(sealed.open(try await redis.send(["HGET", key, SealedLeads.field]).string) == ["lead_owner": owner, "lead_score_tier": "warm", "region": "emea"])
        // A value moved to another tenant's lead, or altered, does not open.
        let other = try await leads.leads("other")
        #expect(other.open(value) == nil)
        var tampered = Array(value)
        tampered[20] = tampered[20] == "A" ? "B" : "A"
        #expect(sealed.open(String(tampered)) == nil)

        // A queued miss: the member is the blind index, the number sits beside it sealed.
        _ = try await redis.pipeline(try sealed.missCommands(phone, nowMs: 1))
        let member = "acme|" + sealed.index(phone)
        #expect(try await redis.send(["ZSCORE", keys.misses, member]).string == "1")
        let sealedPhone = try #require(try await redis.send(["HGET", keys.missPhones, member]).string)
        #expect(!sealedPhone.contains(phone.e164))
        #expect(try sealed.personal.open(sealedPhone) == phone.e164)
        #expect(SealedLeads.parseMiss(member)?.index == sealed.index(phone))

        // The routers' copy of the keys: sealed with the master key, and it opens to the same keys.
        let copy = try #require(try await redis.send(["HGET", keys.personalKeys, "acme"]).string)
        #expect(copy != sealed.personal.exported())
        #expect(try RouterPersonalKeys.open(copy, tenant: "acme", keyRing: ring).index(phone.e164) == sealed.index(phone))

        // On disk: the append-only file has the lead's key (it was written) but not the number or a value.
        let dir = try await redis.send(["CONFIG", "GET", "dir"]).array?.last?.string ?? ""
        let folder = try await redis.send(["CONFIG", "GET", "appenddirname"]).array?.last?.string ?? "appendonlydir"
        func appendOnlyFile() -> String {
            let path = dir + "/" + folder
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.compactMap { FileManager.default.contents(atPath: path + "/" + $0) }.map { String(decoding: $0, as: UTF8.self) }.joined()
        }
        var aof = ""
        #expect(try await TestServers.eventually(5) {
            aof = appendOnlyFile()
            return aof.contains(key) && aof.contains(member)
        }, "the append-only file under \(dir)/\(folder) should hold the lead's key")
        // (The whole number: seven random digits alone could turn up in any decimal, such as a timestamp.)
        #expect(!aof.contains(phone.e164))
        #expect(!aof.contains(owner))

        // What a cache from before sealing left (keys named by a plain number, plain misses) goes on upgrade.
        let legacy = keys.prefix + ":{routing:acme}:lead:" + phone.e164
        try await redis.send(["HSET", legacy, "lead_owner", "x"])
        try await redis.send(["ZADD", keys.misses, "5", "acme|" + phone.e164])
        #expect(try await leads.removePlainEntries() == 2)
        #expect(try await redis.send(["EXISTS", legacy]).int == 0)
        #expect(try await redis.send(["ZSCORE", keys.misses, "acme|" + phone.e164]).isNull)
        #expect(try await redis.send(["EXISTS", key]).int == 1, "the sealed lead stays")

        try await TestServers.cleanup(prefix: keys.prefix, redis: redis)
        await redis.shutdown()
        try await TestServers.dropSchema(postgres)
    }
}
