import Testing
@testable import Queue

@Suite struct NewJobTests {
    @Test func acceptsAnOrdinaryJob() throws {
        try NewJob(type: "import.gong.call", payload: #"{"id":1}"#, key: "gong:tenant-1", priority: 9, maxAttempts: 3, delayMs: 10, uniqueKey: "c1").validate()
    }

    @Test(arguments: [
        NewJob(type: ""), NewJob(type: "has space"), NewJob(type: "ok", key: ""), NewJob(type: "ok", key: "a b"),
        NewJob(type: "ok", key: "{tag}"), NewJob(type: "ok", priority: 10), NewJob(type: "ok", priority: -1),
        NewJob(type: "ok", maxAttempts: 0), NewJob(type: "ok", delayMs: -5), NewJob(type: "ok", uniqueKey: ""),
    ])
    func rejectsBadFields(_ job: NewJob) {
        #expect(throws: QueueError.self) { try job.validate() }
    }

    @Test func mapsHTTPStatusesToErrorClasses() {
        #expect(JobFailure(httpStatus: 200, retryAfterMs: nil, context: "x") == nil)
        #expect(JobFailure(httpStatus: 429, retryAfterMs: 2500, context: "x")?.code == .rateLimited(retryAfterMs: 2500))
        #expect(JobFailure(httpStatus: 429, retryAfterMs: nil, context: "x")?.code == .rateLimited(retryAfterMs: 1000))
        #expect(JobFailure(httpStatus: 503, retryAfterMs: nil, context: "x")?.code == .retryable)
        #expect(JobFailure(httpStatus: 408, retryAfterMs: nil, context: "x")?.code == .retryable)
        #expect(JobFailure(httpStatus: 401, retryAfterMs: nil, context: "x")?.code == .fatal)
        #expect(JobFailure(httpStatus: 404, retryAfterMs: nil, context: "x")?.code == .fatal)
    }

    @Test func malformedPayloadsFailForGood() {
        struct P: Decodable { let n: Int }
        #expect(throws: JobFailure.self) { try JobFailure.decode(P.self, from: "{") }
        do { _ = try JobFailure.decode(P.self, from: #"{"n":"x"}"#) } catch let f as JobFailure { #expect(f.code == .fatal) } catch { Issue.record("wrong error \(error)") }
    }
}
