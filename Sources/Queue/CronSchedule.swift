import Basics
import Foundation

/// A named cron schedule that enqueues one job into one queue per slot.
public struct CronSchedule: Sendable {
    public let name: String
    public let expression: CronExpression
    public let timeZone: TimeZone
    public let queue: String
    public let job: NewJob

    public init(name: String, expression: CronExpression, timeZone: TimeZone = TimeZone(identifier: "UTC")!, queue: String, job: NewJob) {
        self.name = name
        self.expression = expression
        self.timeZone = timeZone
        self.queue = queue
        self.job = job
    }

    /// Reads a JSON array of schedules:
    /// `[{"name": "...", "cron": "0 22 * * *", "timeZone": "Europe/Berlin", "queue": "imports",
    ///    "type": "...", "payload": {...}, "key": "...", "priority": 5, "maxAttempts": 3}]`.
    public static func parseList(json: [UInt8]) throws -> [CronSchedule] {
        guard let list = try? JSONDecoder().decode([[String: JSONValue]].self, from: Data(json)) else {
            throw QueueError(.invalidCron, "schedules must be a JSON array of objects")
        }
        var names = Set<String>()
        return try list.enumerated().map { index, item in
            func text(_ field: String) throws -> String {
                guard let value = item[field]?.string, !value.isEmpty else {
                    throw QueueError(.invalidCron, "schedule #\(index + 1): '\(field)' is required and must be text")
                }
                return value
            }
            let name = try text("name")
            try JobQueue.validateName(name, what: "schedule name")
            guard names.insert(name).inserted else { throw QueueError(.invalidCron, "schedule name '\(name)' is used twice") }
            let zoneName = item["timeZone"]?.string ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else {
                throw QueueError(.invalidCron, "schedule '\(name)': unknown time zone '\(zoneName)'")
            }
            var payload = "{}"
            if let object = item["payload"] {
                guard object.object != nil || object.array != nil, let data = try? JSONEncoder().encode(object) else {
                    throw QueueError(.invalidCron, "schedule '\(name)': payload must be a JSON object or array")
                }
                payload = String(decoding: data, as: UTF8.self)
            }
            let job = NewJob(type: try text("type"), payload: payload, key: item["key"]?.string ?? "default",
                             priority: item["priority"]?.int ?? 5, maxAttempts: item["maxAttempts"]?.int ?? 5)
            try job.validate()
            return CronSchedule(name: name, expression: try CronExpression(parsing: try text("cron")), timeZone: zone,
                                queue: try text("queue"), job: job)
        }
    }
}
