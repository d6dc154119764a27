import Access
import Testing

/// Token text, usernames and passwords: what is accepted before anything is stored.
@Suite struct CredentialRulesTests {
    @Test func onlyWellFormedTokensParse() {
        let id = "0123456789abcdef", secret = String(repeating: "ab", count: 32)
        #expect(APITokens.parse("sb_\(id)_\(secret)")?.id == id)
        #expect(APITokens.parse("sb_\(id)_\(secret)")?.secret == secret)
        for bad in ["", "sb__", "sb_\(id)", "xx_\(id)_\(secret)", "sb_\(id.uppercased())_\(secret)", "sb_\(id)_\(secret)0",
                    "sb_\(id)_\(secret.dropLast())", "sb_\(id)_\(secret)_x", "Bearer sb_\(id)_\(secret)", "sb_\(id)_\(secret.dropLast())\u{0}"] {
            #expect(APITokens.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func theStoredDigestIsSHA256() {
        #expect(APITokens.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func usernamesFollowOneRule() {
        for good in ["ana@acme.example", "cs.operator", "a-b_c+d"] { #expect(User.problem(good) == nil, "\(good)") }
        for bad in ["", "ab", "Ana@acme", "@acme", "a b c", "ana\u{0}x", String(repeating: "a", count: 255), "añb"] {
            #expect(User.problem(bad) != nil, "\(bad)")
        }
    }

    @Test func passwordsAreLongEnoughAndFitBcrypt() {
        #expect(PasswordHasher.problem("correct horse battery") == nil)
        #expect(PasswordHasher.problem("short")?.contains("12") == true)
        #expect(PasswordHasher.problem(String(repeating: "x", count: 73))?.contains("72") == true)
        #expect(PasswordHasher.problem("twelve chars\u{0}!") != nil)
    }

    @Test func bcryptHashesAndChecks() async throws {
        let hasher = PasswordHasher(cost: 4)
        let hash = try await hasher.hash("correct horse battery")
        #expect(hash.hasPrefix("$2"))
        #expect(try await hasher.verify("correct horse battery", hash: hash))
        #expect(try await !hasher.verify("correct horse batterY", hash: hash))
        #expect(try await !hasher.verify("correct horse battery", hash: "not a hash"))
    }
}
