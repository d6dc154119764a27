import Foundation
import Queue

/// Price and timeline of importing `calls` calls from a platform: the arithmetic behind
/// `switchboard quote` and every import request's ETA.
public struct ImportQuote: Sendable, Equatable {
    public let platform: Platform
    public let calls: Int
    /// API requests the import makes (with the connector's batching).
    public let requests: Int
    /// The pace the limiter holds the import to.
    public let pacing: RateLimit
    /// Time the requests need back to back at that pace (the limiter is the brake).
    public let apiTimeMs: Int
    /// Nil for urgent imports, which start at once.
    public let nightWindow: NightWindow?
    /// Requests that fit in one night window (nil when urgent).
    public let requestsPerNight: Int?
    /// Nights needed (1 when the import fits in one; nil when urgent).
    public let nights: Int?
    /// Nil when the platform is not supported.
    public let price: Double?
    /// The learned rate the quote plans with, if any.
    public let learned: LearnedRate?

    /// Jitter margin the limiter adds to each rate window (see `SB_RATE_LIMIT_MARGIN_MS`).
    public static let defaultMarginMs = 25

    /// `listingChains`: cursor chains the listing is split into (each may end on a partial page of
    /// every request step); the default is what the import engine uses.
    /// `learned`: the rate the platform account really allows, when its 429s taught the fleet a
    /// lower one than documented (the quote then plans with it).
    public init(platform: Platform, calls: Int, nightWindow: NightWindow?, marginMs: Int = ImportQuote.defaultMarginMs,
                listingChains: Int = ImportPipeline.listingChains, learned: LearnedRate? = nil) throws {
        guard calls >= 0, calls <= 10_000_000 else { throw ImportError(.invalidInput, "call count must be between 0 and 10,000,000") }
        self.platform = platform
        self.calls = calls
        let partialPages = calls > 0 ? (max(1, listingChains) - 1) * platform.requestsPerCall.filter { $0.callsPerRequest > 1 }.count : 0
        self.requests = platform.requests(calls: calls) + partialPages + 1 // + the validation call
        self.pacing = learned.map { $0.pacing(documented: platform.pacing) } ?? platform.pacing
        self.learned = learned
        self.apiTimeMs = pacing.minimumDurationMs(requests: requests, marginMs: marginMs)
        self.nightWindow = nightWindow
        if let nightWindow {
            let perNight = Self.requestsPerWindow(pacing, lengthMs: nightWindow.lengthMs, marginMs: marginMs)
            self.requestsPerNight = perNight
            self.nights = max(1, perNight > 0 ? (requests + perNight - 1) / perNight : Int.max)
        } else {
            self.requestsPerNight = nil
            self.nights = nil
        }
        self.price = platform.price?.total(calls: calls)
    }

    /// Requests the limiter lets through in `lengthMs`: each window short enough to repeat inside
    /// the night gives `limit` per repetition (plus the opening burst); a longer window (a daily
    /// quota) gives its whole `limit` once per night.
    static func requestsPerWindow(_ limit: RateLimit, lengthMs: Int, marginMs: Int) -> Int {
        limit.windows.map { w in
            let span = w.windowMs + marginMs
            return span <= lengthMs ? (lengthMs / span + 1) * w.limit : w.limit
        }.min() ?? Int.max
    }

    /// Milliseconds the rest of a running import needs at `pacing`: the listing pages of the calls
    /// not listed yet, and every later step (transcripts) for the calls not done yet.
    public static func remainingMs(platform: Platform, pacing: RateLimit, unlisted: Int, unfinished: Int) -> Int {
        var requests = 0
        for (i, step) in platform.requestsPerCall.enumerated() where step.callsPerRequest > 0 {
            let calls = max(0, i == 0 ? unlisted : unfinished)
            requests += (calls + step.callsPerRequest - 1) / step.callsPerRequest
        }
        return requests == 0 ? 0 : pacing.minimumDurationMs(requests: requests + 1, marginMs: defaultMarginMs)
    }

    /// Milliseconds from the start of the work to its end, for an import starting at `start`:
    /// urgent imports run back to back; bulk ones wait for the window and stop at its end.
    public func durationMs(startingAt start: Date) -> Int {
        guard let nightWindow, let perNight = requestsPerNight, let nights else { return apiTimeMs }
        let opening = nightWindow.nextOpening(after: start)
        let wait = Int(opening.timeIntervalSince(start) * 1000)
        let lastNight = requests - (nights - 1) * perNight
        let lastNightMs = pacing.minimumDurationMs(requests: lastNight, marginMs: Self.defaultMarginMs)
        return wait + (nights - 1) * 86_400_000 + lastNightMs
    }

    /// The quote in words, as a sales rep reads it out.
    public var summary: String {
        var lines: [String] = []
        let name = platform.name
        lines.append("\(calls.formatted()) \(name) calls: \(platform.status.label.lowercased()) via \(platform.method.label)")
        if platform.status == .notSupported {
            lines.append("Not supported: \(platform.salesNotes)")
            return lines.joined(separator: "\n")
        }
        if let price, let p = platform.price {
            lines.append(String(format: "Price: %@ %.2f (setup %.2f + %.2f per call, minimum %.2f)", p.currency, price, p.setupFee, p.perCall, p.minimum))
        }
        if platform.status == .manualUpload {
            lines.append("Timeline: as soon as the customer's export is uploaded; the upload is processed within the hour.")
            return lines.joined(separator: "\n")
        }
        let paceNote = platform.rateLimit == nil ? " (no documented limit: paced at 1/s)" : ""
        if let learned {
            lines.append("Requests: \(requests.formatted()) at \(learned.summary) = \(Self.words(ms: apiTimeMs)) of API time")
        } else {
            lines.append("Requests: \(requests.formatted()) at \(platform.rateLimit ?? "1/s")\(paceNote) = \(Self.words(ms: apiTimeMs)) of API time")
        }
        if let nightWindow, let nights, let perNight = requestsPerNight {
            lines.append("Bulk, inside the night window \(nightWindow) (\(Self.words(ms: nightWindow.lengthMs)), up to \(perNight.formatted()) requests a night): \(nights) night\(nights == 1 ? "" : "s")")
        } else {
            lines.append("Urgent: starts at once, done in about \(Self.words(ms: apiTimeMs))")
        }
        if platform.status == .inProgress { lines.append("Note: the connector is in progress; until it ships, offer manual upload.") }
        return lines.joined(separator: "\n")
    }

    /// "1 h 5 min", "50 s": durations as people say them.
    public static func words(ms: Int) -> String {
        let s = (ms + 999) / 1000
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" + (s % 60 == 0 ? "" : " \(s % 60) s") }
        let h = s / 3600, m = (s % 3600) / 60
        if h < 48 { return "\(h) h" + (m == 0 ? "" : " \(m) min") }
        return "\(h / 24) days \(h % 24) h"
    }
}
