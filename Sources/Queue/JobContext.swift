/// What a handler gets: the job, its attempt number, and a way to report progress.
public struct JobContext: Sendable {
    public let job: ClaimedJob
    public let queue: JobQueue

    /// Records "done of total" on the job (visible to `queue stats` and the import status).
    public func progress(done: Int, total: Int) async throws {
        try await queue.progress(id: job.id, token: job.token, done: done, total: total)
    }
}

/// A handler for one job type, with its retry policy.
public struct JobDefinition: Sendable {
    public let type: String
    public let backoff: Backoff
    /// Longest an attempt may run; past it the attempt fails as retryable. Nil: no limit.
    public let timeoutMs: Int?
    public let handler: @Sendable (JobContext) async throws -> Void

    public init(type: String, backoff: Backoff = Backoff(), timeoutMs: Int? = nil,
                handler: @escaping @Sendable (JobContext) async throws -> Void) {
        self.type = type
        self.backoff = backoff
        self.timeoutMs = timeoutMs
        self.handler = handler
    }
}

/// The job types a worker can run, by type name.
public struct JobRegistry: Sendable {
    public private(set) var definitions: [String: JobDefinition] = [:]

    public init(_ definitions: [JobDefinition] = []) {
        for definition in definitions { register(definition) }
    }

    /// Adds (or replaces) a job type.
    public mutating func register(_ definition: JobDefinition) {
        definitions[definition.type] = definition
    }
}
