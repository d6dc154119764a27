import Vault
import Testing

/// The audit hash chain: canonical form, links, and what a verifier reports.
@Suite struct AuditChainTests {
    func chain(_ rows: [[String]]) -> [AuditChain.Link] {
        var previous = AuditChain.genesis
        return rows.enumerated().map { i, fields in
            let hash = AuditChain.hash(previous: previous, fields: fields)
            defer { previous = hash }
            return AuditChain.Link(id: 100 + i, seq: i + 1, fields: fields, previous: previous, hash: hash)
        }
    }

    @Test func theCanonicalFormTellsFieldBoundaries() {
        #expect(AuditChain.canonical(["ab", "c"]) != AuditChain.canonical(["a", "bc"]))
        #expect(AuditChain.canonical(["a\n1:b"]) != AuditChain.canonical(["a", "b"]))
        #expect(AuditChain.hash(previous: AuditChain.genesis, fields: ["x"]) != AuditChain.hash(previous: AuditChain.genesis, fields: ["y"]))
        #expect(AuditChain.hash(previous: AuditChain.genesis, fields: ["x"]).count == 64)
    }

    @Test func anIntactChainVerifies() {
        let links = chain([["a"], ["b"], ["c"]])
        #expect(AuditChain.firstBreak(links, afterSeq: 0, afterHash: AuditChain.genesis) == nil)
        // From a kept boundary (after retention cut rows 1-2): row 3 still verifies.
        #expect(AuditChain.firstBreak(Array(links.suffix(1)), afterSeq: 2, afterHash: links[1].hash) == nil)
    }

    @Test func aChangedRowIsNamed() {
        var links = chain([["a"], ["b"], ["c"]])
        let l = links[1]
        links[1] = AuditChain.Link(id: l.id, seq: l.seq, fields: ["B"], previous: l.previous, hash: l.hash)
        let found = AuditChain.firstBreak(links, afterSeq: 0, afterHash: AuditChain.genesis)
        #expect(found?.id == 101)
        #expect(found?.reason.contains("content") == true)
    }

    @Test func aRehashedRowBreaksTheNextLink() {
        var links = chain([["a"], ["b"], ["c"]])
        let l = links[1]
        links[1] = AuditChain.Link(id: l.id, seq: l.seq, fields: ["B"], previous: l.previous, hash: AuditChain.hash(previous: l.previous, fields: ["B"]))
        let found = AuditChain.firstBreak(links, afterSeq: 0, afterHash: AuditChain.genesis)
        #expect(found?.seq == 3)
        #expect(found?.reason.contains("previous") == true)
    }

    @Test func aRemovedRowIsNamed() {
        var links = chain([["a"], ["b"], ["c"]])
        links.remove(at: 1)
        let found = AuditChain.firstBreak(links, afterSeq: 0, afterHash: AuditChain.genesis)
        #expect(found?.seq == 3)
        #expect(found?.reason.contains("missing") == true)
    }
}
