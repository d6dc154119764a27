import Basics
import ArgumentParser
import Curl
import Foundation
import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers

/// `simulator braze`: the Braze REST API parts routing uses, as documented (braze.com/docs/api):
/// Bearer REST API key; `POST /users/export/ids` (up to 50 `external_ids`, or exactly one
/// `phone`; `fields_to_export` required; 250 requests / min by default), `POST
/// /users/export/segment` (async: the answer carries a `url`; the export is newline-delimited
/// JSON, about 5,000 users per file; one export per segment at a time), `POST /users/track`
/// (at most 75 attributes and 75 events per request; 3,000 requests / 3 s). Errors are
/// `{"message": …}`; 429 carries `Retry-After` and `X-RateLimit-*`. Controls: `/_sim/faults`
/// (latency for timeouts, 5xx, outage), `POST /_sim/change {"external_id", "custom_attributes"}`
/// changes a user and posts the change webhook (`--webhook-url`, `--webhook-token`),
/// `GET /_sim/tracked` lists what `/users/track` received, `GET /_sim/stats`.
struct BrazeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "braze", abstract: "Simulated Braze (user export, segment export, track).")

    @Option(help: "Port on 127.0.0.1 (0: any free port).") var port = 0
    @Option(help: "Write the bound port to this file.") var portFile: String?
    @Option(help: "REST API key.") var apiKey = "braze-demo-key"
    @Option(help: "Users in the workspace (phones +1555<7 digits>).") var users = 1000
    @Option(help: "Seed of the users' attributes.") var seed: UInt64 = 7
    @Option(help: "The segment id that exports every user.") var segment = "all-leads"
    @Option(help: "Users per export file.") var usersPerFile = 5000
    @Option(help: "Limit of /users/export/ids.") var exportLimit = "250/m"
    @Option(help: "Limit of /users/track.") var trackLimit = "3000/3s"
    @Option(help: "Where change webhooks go (an attribute-trigger webhook campaign).") var webhookURL: String?
    @Option(help: "Bearer token the change webhook carries.") var webhookToken = "braze-webhook-token"

    struct User: Sendable {
        let externalId: String
        let phone: String
        var attributes: [String: String]
        func json(_ fields: Set<String>) -> [String: Any] {
            var out: [String: Any] = [:]
            if fields.contains("external_id") { out["external_id"] = externalId }
            if fields.contains("phone") { out["phone"] = phone }
            if fields.contains("custom_attributes") { out["custom_attributes"] = attributes }
            return out
        }
    }

    /// The simulated workspace: users, running exports, what /users/track received (JSON text).
    struct Workspace: Sendable {
        var users: [String: User]
        var phones: [String: String]
        var exports: [String: Export] = [:]
        var running: Set<String> = []
        var tracked: [String] = []
    }

    struct Export: Sendable {
        let ready: Date
        let files: [String]
    }

    func run() async throws {
        var random = SeededRandom(seed: seed)
        let owners = ["alice@demo.example", "bob@demo.example", "carol@demo.example", ""]
        let tiers = ["hot", "warm", "cold", ""]
        var initial: [String: User] = [:]
        var byPhone: [String: String] = [:]
        for i in 0..<users {
            var attributes: [String: String] = ["lead_score": String(Int(random.next() % UInt64(100)))]
            let owner = owners[Int(random.next() % UInt64(owners.count))], tier = tiers[Int(random.next() % UInt64(tiers.count))]
            if !owner.isEmpty { attributes["lead_owner"] = owner }
            if !tier.isEmpty { attributes["lead_score_tier"] = tier }
            let user = User(externalId: "u\(i)", phone: "+1555" + String(format: "%07d", i), attributes: attributes)
            initial[user.externalId] = user
            byPhone[user.phone] = user.externalId
        }
        let state = NIOLockedValueBox(Workspace(users: initial, phones: byPhone))
        let exportLimiter = VendorLimiter(windows: try VendorLimiter.parse(exportLimit))
        let trackLimiter = VendorLimiter(windows: try VendorLimiter.parse(trackLimit))
        let general = VendorLimiter(windows: try VendorLimiter.parse("250000/h"))
        let router = Router()
        SimulatorServer.addControls(router, exportLimiter)
        let expected = "Bearer \(apiKey)"
        let segment = self.segment, perFile = max(1, usersPerFile), webhookURL = self.webhookURL, webhookToken = self.webhookToken
        let hooks = simulatorHTTPClient(maxConnections: 4)
        @Sendable func message(_ status: Int, _ text: String) -> Response { SimulatorServer.json(status, ["message": text]) }
        @Sendable func admit(_ request: Request, _ limiter: VendorLimiter) async throws -> Response? {
            guard request.headers[.authorization] == expected else { return message(401, "Invalid API key") }
            if var blocked = try await SimulatorServer.gate(limiter, failure: { status, text in message(status, text) }) {
                if blocked.status == .tooManyRequests, let window = limiter.windows.first {
                    blocked.headers[HTTPField.Name("X-RateLimit-Limit")!] = String(window.limit)
                    blocked.headers[HTTPField.Name("X-RateLimit-Remaining")!] = "0"
                    blocked.headers[HTTPField.Name("X-RateLimit-Reset")!] = String(Int(Date().timeIntervalSince1970) + (Int(blocked.headers[.retryAfter] ?? "1") ?? 1))
                }
                return blocked
            }
            return nil
        }
        @Sendable func body(_ request: Request) async throws -> [String: Any]? {
            let buffer = try await request.body.collect(upTo: 1 << 20)
            return try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any]
        }

        router.post("/users/export/ids") { request, _ -> Response in
            if let blocked = try await admit(request, exportLimiter) { return blocked }
            guard let object = try await body(request) else { return message(400, "Invalid JSON") }
            guard let fields = object["fields_to_export"] as? [String], !fields.isEmpty else { return message(400, "fields_to_export is required") }
            let wanted = Set(fields)
            let ids = object["external_ids"] as? [String] ?? []
            guard ids.count <= 50 else { return message(400, "You can only provide up to 50 external_ids") }
            let phone = object["phone"] as? String
            if object["phone"] != nil && phone == nil { return message(400, "phone must be a string (only one phone per request)") }
            guard !ids.isEmpty || phone != nil else { return message(400, "provide external_ids or phone") }
            let (found, invalid) = state.withLockedValue { s -> ([[String: Any]], [String]) in
                var found: [[String: Any]] = [], invalid: [String] = []
                for id in ids { if let u = s.users[id] { found.append(u.json(wanted)) } else { invalid.append(id) } }
                if let phone, let id = s.phones[phone], let u = s.users[id] { found.append(u.json(wanted)) }
                return (found, invalid)
            }
            var answer: [String: Any] = ["message": "success", "users": found]
            if !invalid.isEmpty { answer["invalid_user_ids"] = invalid }
            return SimulatorServer.json(201, answer)
        }

        router.post("/users/export/segment") { request, context -> Response in
            if let blocked = try await admit(request, general) { return blocked }
            guard let object = try await body(request) else { return message(400, "Invalid JSON") }
            guard let id = object["segment_id"] as? String else { return message(400, "segment_id is required") }
            guard id == segment else { return message(400, "Invalid segment_id") }
            guard let fields = object["fields_to_export"] as? [String], !fields.isEmpty else { return message(400, "fields_to_export is required") }
            let prefix = UUID().uuidString.lowercased()
            let started = state.withLockedValue { s -> Bool in
                if s.running.contains(id) { return false }
                s.running.insert(id)
                let all = s.users.values.sorted { $0.externalId < $1.externalId }.map { $0.json(Set(fields)) }
                var files: [String] = []
                for start in stride(from: 0, to: all.count, by: perFile) {
                    files.append(all[start..<min(all.count, start + perFile)].compactMap {
                        (try? JSONSerialization.data(withJSONObject: $0)).map { String(decoding: $0, as: UTF8.self) }
                    }.joined(separator: "\n") + "\n")
                }
                s.exports[prefix] = Export(ready: Date().addingTimeInterval(0.5), files: files)
                return true
            }
            guard started else { return message(429, "An export of this segment is already running") }
            let host = request.head.authority ?? "127.0.0.1"
            _ = context
            return SimulatorServer.json(201, ["message": "success", "object_prefix": prefix, "url": "\(SimulatorServer.scheme)://\(host)/_exports/\(prefix)"])
        }
        // The download location of an export (where S3 would be): the file list once ready.
        router.get("/_exports/:prefix") { request, context -> Response in
            let prefix = context.parameters.get("prefix") ?? ""
            let host = request.head.authority ?? "127.0.0.1"
            let files = state.withLockedValue { s -> [String]? in
                guard let export = s.exports[prefix] else { return nil }
                if export.ready > Date() { return [] }
                s.running.remove(segment)
                return export.files.indices.map { "\(SimulatorServer.scheme)://\(host)/_exports/\(prefix)/\($0).ndjson" }
            }
            guard let files else { return message(404, "no such export") }
            if files.isEmpty { return message(404, "export not ready yet") }
            return SimulatorServer.json(200, ["files": files])
        }
        router.get("/_exports/:prefix/:file") { _, context -> Response in
            let prefix = context.parameters.get("prefix") ?? ""
            let index = Int((context.parameters.get("file") ?? "").replacingOccurrences(of: ".ndjson", with: "")) ?? -1
            let text = state.withLockedValue { s -> String? in
                guard let export = s.exports[prefix], export.files.indices.contains(index) else { return nil }
                return export.files[index]
            }
            guard let text else { return message(404, "no such file") }
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }

        router.post("/users/track") { request, _ -> Response in
            if let blocked = try await admit(request, trackLimiter) { return blocked }
            guard let object = try await body(request) else { return message(400, "Invalid JSON") }
            let attributes = object["attributes"] as? [[String: Any]] ?? []
            let events = object["events"] as? [[String: Any]] ?? []
            guard attributes.count <= 75, events.count <= 75 else { return message(400, "Max Input Length Exceeded") }
            let identifiers = ["external_id", "user_alias", "braze_id", "email", "phone"]
            for item in attributes + events where !identifiers.contains(where: { item[$0] != nil }) {
                return message(400, "each object needs one of \(identifiers.joined(separator: ", "))")
            }
            for event in events where (event["name"] as? String) == nil || (event["time"] as? String) == nil {
                return message(400, "events need name and time")
            }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            state.withLockedValue { $0.tracked.append(text) }
            return SimulatorServer.json(201, ["message": "success", "attributes_processed": attributes.count, "events_processed": events.count])
        }

        router.post("/_sim/change") { request, _ -> Response in
            guard let object = try await body(request), let id = object["external_id"] as? String,
                  let changes = object["custom_attributes"] as? [String: String] else {
                return message(400, "body must be JSON like {\"external_id\": \"u1\", \"custom_attributes\": {\"lead_owner\": \"bob@demo.example\"}}")
            }
            guard let user = state.withLockedValue({ s -> User? in
                guard var u = s.users[id] else { return nil }
                for (k, v) in changes { if v.isEmpty { u.attributes.removeValue(forKey: k) } else { u.attributes[k] = v } }
                s.users[id] = u
                return u
            }) else { return message(404, "no user \(id)") }
            if let webhookURL {
                // What an attribute-trigger webhook campaign would send.
                let payload = try JSONSerialization.data(withJSONObject: ["external_id": user.externalId, "phone": user.phone,
                                                                          "changed": Array(changes.keys).sorted()])
                _ = try? await hooks.send(Curl.HTTPRequest(method: "POST", url: webhookURL,
                                                      headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(webhookToken)")],
                                                      body: Array(payload)))
            }
            return Response(status: .noContent)
        }
        router.get("/_sim/tracked") { _, _ -> Response in
            let tracked = state.withLockedValue { $0.tracked }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
            return SimulatorServer.json(200, ["requests": tracked])
        }
        try await SimulatorServer.run(router, port: port, portFile: portFile)
    }
}
