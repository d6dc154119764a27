import Basics
import ArgumentParser
import Foundation
import Curl
import Imports
import Postgres
import Queue
import Redis
import Settings
import Vault

/// `switchboard import …`: what customer success runs to import a customer's calls.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Create, watch and manage import requests.",
        subcommands: [Create.self, Upload.self, List.self, Show.self, Status.self, Cancel.self, RetryFailed.self, Resume.self, Calls.self])

    /// Runs `body` with the import pipeline built from the environment.
    static func withPipeline<R>(_ options: GlobalOptions, _ body: (ImportPipeline) async throws -> R) async throws -> R {
        let common = try options.settings()
        let imports: ImportSettings
        do { imports = try ImportSettings(options.environment()) } catch { throw ValidationError("\(error)") }
        let postgres = PostgresClient(common.postgres)
        var redisConfig = common.redis
        redisConfig.connectAttempts = 2
        let redis = RedisClient(redisConfig)
        let http = HTTPClient(maxConnections: 1, policy: common.outbound)
        func close() async {
            await postgres.shutdown()
            await redis.shutdown()
            await http.shutdown()
        }
        do {
            let pipeline = ImportPipeline(store: ImportStore(postgres: postgres, vault: CredentialVault(keyRing: imports.keyRing, postgres: postgres)),
                                          queue: try JobQueue(name: imports.queue, prefix: common.keyPrefix, redis: redis),
                                          connectors: imports.connectors(http: http),
                                          catalog: try PlatformCatalog.bundled(), nightWindow: imports.nightWindow, timing: imports.timing)
            let result = try await body(pipeline)
            await close()
            return result
        } catch {
            await close()
            switch error {
            case let e as ImportError where e.code == .invalidInput || e.code == .unknownPlatform: throw ValidationError(e.message)
            case let e as ImportError: throw CLIFailure(e.message)
            case let e as PostgresError: throw CLIFailure("database: \(e)")
            case let e as RedisError: throw CLIFailure("cannot talk to Redis: \(e.message)")
            default: throw error
            }
        }
    }

    static func describe(_ r: ImportRequest) -> String {
        var line = "#\(r.id)  \(r.tenant)  \(r.platform)  \(r.state.rawValue)  \(r.fromDate)…\(r.toDate)  urgency \(r.urgency.rawValue)"
        if let total = r.totalCalls { line += "  \(r.doneCalls)/\(total) done" + (r.failedCalls > 0 ? ", \(r.failedCalls) failed" : "") }
        if let error = r.error { line += "\n    \(error)" }
        return line
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an import request (credentials are encrypted at once).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id (created on first use), e.g. acme.") var tenant: String
        @Option(help: "Platform id (switchboard matrix).") var platform: String
        @Option(help: "File with the platform credentials as JSON, or - for standard input (Gong: {\"accessKey\":…,\"accessKeySecret\":…}).")
        var credentialsFile: String
        @Option(help: "First day of calls (YYYY-MM-DD).") var from: String
        @Option(help: "Last day of calls, inclusive (YYYY-MM-DD).") var to: String
        @Option(help: "Estimated number of calls.") var estimatedCalls = 0
        @Option(help: "standard (night window), onboarding, deal or retention (start at once).") var urgency = "standard"
        @Option(help: "Date the customer needs it by (YYYY-MM-DD).") var requestedBy: String?
        @Option(help: "URL that receives signed JSON events.") var callbackUrl: String?

        func run() async throws {
            guard let level = Urgency(rawValue: urgency) else {
                throw ValidationError("--urgency must be one of \(Urgency.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let data: Data?
            if credentialsFile == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else { data = FileManager.default.contents(atPath: credentialsFile) }
            guard let data else { throw ValidationError("cannot read credentials file \(credentialsFile)") }
            let request = NewImportRequest(tenant: tenant, platform: platform, credentials: String(decoding: data, as: UTF8.self),
                                           fromDate: from, toDate: to, estimatedCalls: estimatedCalls, urgency: level,
                                           requestedCompletion: requestedBy, callbackURL: callbackUrl, createdBy: CLIIdentity.principal.name)
            let submitted = try await withPipeline(options) { pipeline in
                let submitted = try await pipeline.submit(request)
                try await CLIIdentity.record(pipeline.store.postgres, "import.create", tenant: tenant, target: "import \(submitted.request.id)")
                return submitted
            }
            let created = submitted.request
            if options.json { return try options.printJSON(created) }
            print("created import request #\(created.id) (\(created.platform) for \(created.tenant)); validating the credentials now")
            if let secret = submitted.callbackSecret {
                print("callbacks are signed with this secret (shown once): \(secret)")
            }
            print("watch it: switchboard import status \(created.id) --watch")
        }
    }

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a manual upload: a folder or .zip with manifest.ndjson (docs/manual-upload.md).",
            discussion: "Malformed lines are reported by number; every other call is imported.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id (created on first use).") var tenant: String
        @Option(help: "The platform the calls come from (switchboard matrix).") var platform: String
        @Option(help: "The upload folder or .zip file.") var path: String
        @Option(help: "Where media files are kept.") var mediaDir = ProcessInfo.processInfo.environment["SB_MEDIA_DIR"] ?? ".run/media"

        func run() async throws {
            let upload: ManualUpload
            do { upload = try ManualUpload.read(path: path) } catch let error as ImportError { throw ValidationError(error.message) }
            defer { upload.discard() } // the unpacked zip: its media are copied by now
            let request = try await withPipeline(options) { pipeline in
                let request = try await pipeline.importUpload(upload, tenant: tenant, platform: platform, createdBy: CLIIdentity.principal.name,
                                                              mediaDirectory: mediaDir)
                try await CLIIdentity.record(pipeline.store.postgres, "import.upload", tenant: tenant, target: "import \(request.id)")
                return request
            }
            if options.json { return try options.printJSON(request) }
            print("import request #\(request.id): \(request.doneCalls) call(s) imported, \(upload.rejected.count) line(s) rejected — \(request.state.rawValue)")
            for row in upload.rejected.prefix(50) { print("  \(row.row): \(row.reason)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import requests, newest first.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this tenant.") var tenant: String?
        @Option(help: "How many (1-1000).") var limit = 50

        func run() async throws {
            let requests = try await withPipeline(options) { try await $0.store.list(tenant: tenant, limit: limit) }
            if options.json { return try options.printJSON(requests) }
            if requests.isEmpty { print("no import requests"); return }
            requests.forEach { print(ImportCommand.describe($0)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One request with its events and failed calls (never its credentials).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Request id.") var id: Int

        func run() async throws {
            let (request, events, failures) = try await withPipeline(options) { p in
                (try await p.store.request(id), try await p.store.events(id), try await p.store.failures(id))
            }
            if options.json {
                struct Detail: Encodable { let request: ImportRequest; let events: [[String: String]]; let failures: [[String: String]] }
                return try options.printJSON(Detail(request: request, events: events.map { ["kind": $0.kind, "message": $0.message] },
                                                    failures: failures.map { ["callId": $0.externalId, "error": $0.error] }))
            }
            print(ImportCommand.describe(request))
            print("  requested by \(request.createdBy) on \(request.createdAt)\(request.requestedCompletion.map { ", needed by \($0)" } ?? "")")
            for event in events { print("  event \(event.kind): \(event.message)") }
            for failure in failures.prefix(50) { print("  failed: \(failure.externalId): \(failure.error)") }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Progress of one request: total, done, failed, remaining, ETA.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Request id.") var id: Int
        @Flag(help: "Redraw every second until the request finishes.") var watch = false

        func run() async throws {
            try await withPipeline(options) { pipeline in
                while true {
                    let r = try await pipeline.store.request(id)
                    if options.json {
                        try options.printJSON(r)
                    } else {
                        let total = r.totalCalls ?? r.estimatedCalls
                        let done = r.doneCalls + r.failedCalls
                        let width = 30
                        let filled = total > 0 ? min(width, done * width / total) : (r.state.isFinished ? width : 0)
                        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                        let eta = r.eta.map { " ETA \(ISO8601DateFormatter().string(from: $0))" } ?? ""
                        let text = "#\(r.id) \(r.platform) \(r.tenant) [\(bar)] \(r.doneCalls)/\(total) done, \(r.failedCalls) failed, \(r.remainingCalls) remaining — \(r.state.rawValue)\(eta)"
                        if watch && isatty(STDOUT_FILENO) == 1 { print("\r\u{1B}[2K" + text, terminator: "") } else { print(text) }
                        fflush(nil)
                        if r.state.isFinished || !watch {
                            if watch { print("") }
                            for failure in try await pipeline.store.failures(id).prefix(20) { print("  failed: \(failure.externalId): \(failure.error)") }
                            if let error = r.error { print("  \(error)") }
                        }
                    }
                    if !watch || r.state.isFinished { return }
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a request; calls already imported stay.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Request id.") var id: Int

        func run() async throws {
            let r = try await withPipeline(options) { pipeline in
                let r = try await pipeline.store.cancel(id)
                try await CLIIdentity.record(pipeline.store.postgres, "import.cancel", tenant: r.tenant, target: "import \(id)")
                return r
            }
            if options.json { return try options.printJSON(r) }
            print("cancelled import request #\(r.id)")
        }
    }

    struct RetryFailed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retry-failed", abstract: "Import the failed calls of a request again.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Request id.") var id: Int

        func run() async throws {
            let n = try await withPipeline(options) { pipeline in
                let n = try await pipeline.retryFailed(id)
                try await CLIIdentity.record(pipeline.store.postgres, "import.retry-failed", tenant: try await pipeline.store.request(id).tenant,
                                             target: "import \(id)")
                return n
            }
            if options.json { return try options.printJSON(["retrying": n]) }
            print("retrying \(n) failed call(s) of import request #\(id)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart a stalled request where it stopped (after fixing the cause).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Request id.") var id: Int

        func validate() throws {
            guard id > 0 else { throw ValidationError("request id must be a positive number") }
        }

        func run() async throws {
            let resumed = try await withPipeline(options) { pipeline in
                let resumed = try await pipeline.resume(id)
                try await CLIIdentity.record(pipeline.store.postgres, "import.resume", tenant: try await pipeline.store.request(id).tenant,
                                             target: "import \(id)")
                return resumed
            }
            if options.json { return try options.printJSON(resumed) }
            print("import request #\(id) is \(resumed.state.rawValue) again: \(resumed.deadJobsRetried) dead job(s) retried, "
                  + "\(resumed.chainsRestarted) listing chain(s) restarted, \(resumed.transcriptJobs) transcript job(s) queued")
        }
    }

    struct Calls: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A tenant's imported calls, newest import first.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "How many (1-1000).") var limit = 20

        func run() async throws {
            let calls = try await withPipeline(options) { try await $0.store.importedCalls(tenant: tenant, limit: limit) }
            if options.json { return try options.printJSON(calls) }
            if calls.isEmpty { print("no imported calls for \(tenant)"); return }
            for c in calls { print("\(c.title ?? "(untitled)")  —  \(c.badge)  (\(c.segments) transcript segments, \(c.participants) participants)") }
        }
    }
}
