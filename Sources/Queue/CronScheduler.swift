import Foundation
import Logging
import ServiceLifecycle

/// Fires cron schedules: each slot enqueues its job exactly once across every scheduler process
/// (an atomic compare-and-set in Redis). After downtime the latest missed slot fires once.
public final class CronScheduler: Service {
    public let schedules: [CronSchedule]
    private let queues: [String: JobQueue]
    private let tickMs: Int
    private let logger: Logger

    /// `queueFor` opens the queue a schedule names.
    public init(schedules: [CronSchedule], tickMs: Int = 250, logger: Logger = Logger(label: "switchboard.scheduler"),
                queueFor: (String) throws -> JobQueue) throws {
        self.schedules = schedules
        var queues: [String: JobQueue] = [:]
        for schedule in schedules where queues[schedule.queue] == nil { queues[schedule.queue] = try queueFor(schedule.queue) }
        self.queues = queues
        self.tickMs = max(10, tickMs)
        self.logger = logger
    }

    /// Runs until graceful shutdown.
    public func run() async throws {
        var lastSeen: [String: Int] = [:]
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = Date()
            for schedule in schedules {
                guard let slot = schedule.expression.previous(atOrBefore: now, in: schedule.timeZone) else { continue }
                let slotMs = Int((slot.timeIntervalSince1970 * 1000).rounded())
                if lastSeen[schedule.name] == slotMs { continue }
                do {
                    if let id = try await queues[schedule.queue]!.fireCron(schedule: schedule.name, slotMs: slotMs, job: schedule.job) {
                        logger.info("cron fired", metadata: ["schedule": "\(schedule.name)", "slot": "\(slot)", "job": "\(id)"])
                    }
                    lastSeen[schedule.name] = slotMs
                } catch {
                    logger.error("cron firing failed, will retry", metadata: ["schedule": "\(schedule.name)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(tickMs))
        }
    }
}
