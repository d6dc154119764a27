import Foundation
import Testing
@testable import Imports
import Queue

@Suite struct PlatformCatalogTests {
    @Test func everyPlatformOfTheResearchIsInTheMatrix() throws {
        let catalog = try PlatformCatalog.bundled()
        #expect(catalog.platforms.count == 15)
        #expect(Set(catalog.platforms.filter { $0.status == .supported }.map(\.id)) == ["gong", "fathom", "grain"])
        for platform in catalog.platforms {
            #expect(!platform.requestsPerCall.isEmpty, "\(platform.id) has no request model")
            if let limit = platform.rateLimit { #expect(throws: Never.self, "\(platform.id)") { try RateLimit(parsing: limit) } }
            #expect((platform.price == nil) == (platform.status == .notSupported), "\(platform.id)")
        }
    }

    @Test func unknownPlatformsListTheKnownOnes() throws {
        let catalog = try PlatformCatalog.bundled()
        #expect(try catalog.platform("GONG").id == "gong")
        #expect(try catalog.platform("clari_copilot").id == "clari_copilot")
        #expect(try catalog.platform("Fathom").id == "fathom")
        do {
            _ = try catalog.platform("myspace")
            Issue.record("myspace was found")
        } catch let error as ImportError {
            #expect(error.code == .unknownPlatform)
            #expect(error.message.contains("gong, grain"))
        }
    }

    @Test func matrixDocumentsCarryEveryPlatformAndEscapeTheirText() throws {
        let catalog = try PlatformCatalog.bundled()
        let doc = MatrixDocument(catalog: catalog, nightWindow: try NightWindow(parsing: "22:00-06:00"))
        let markdown = doc.markdown()
        #expect(markdown.split(separator: "\n").filter { $0.hasPrefix("| ") }.count == 16)
        #expect(markdown.contains("| Gong | Supported | API key |"))
        let html = doc.html()
        #expect(html.components(separatedBy: "<tr>").count - 1 == 16)
        #expect(!html.contains("<script"))
    }
}

@Suite struct ImportQuoteTests {
    let gong = try! PlatformCatalog.bundled().platform("gong")

    @Test func gongBatchesHundredCallsPerRequest() throws {
        #expect(gong.requests(calls: 5000) == 100)
        #expect(gong.requests(calls: 5001) == 102)
        #expect(gong.requests(calls: 0) == 0)
        let quote = try ImportQuote(platform: gong, calls: 5000, nightWindow: nil, marginMs: 0, listingChains: 1)
        // 100 requests + the validation at 3/s: 3 at once, then 3 more each second: the last at 33 s.
        #expect(quote.requests == 101)
        #expect(quote.apiTimeMs == 33_000)
        // Four listing chains may each end on a partial page, of listings and of transcripts.
        #expect(try ImportQuote(platform: gong, calls: 5000, nightWindow: nil, listingChains: 4).requests == 107)
        #expect(quote.price == 250 + 0.05 * 5000)
        #expect(quote.nights == nil)
    }

    @Test func bulkImportsCountNightsAgainstTheDailyQuota() throws {
        let night = try NightWindow(parsing: "22:00-06:00")
        // 10,000 requests a day caps each night; 3/s alone would allow 86,403 in 8 h.
        let big = try ImportQuote(platform: gong, calls: 600_000, nightWindow: night, listingChains: 1)
        #expect(big.requests == 12_001)
        #expect(big.requestsPerNight == 10_000)
        #expect(big.nights == 2)
        #expect(try ImportQuote(platform: gong, calls: 5000, nightWindow: night).nights == 1)
    }

    @Test func durationWaitsForTheWindowWhenBulk() throws {
        let night = try NightWindow(parsing: "22:00-06:00")
        let quote = try ImportQuote(platform: gong, calls: 5000, nightWindow: night)
        let noon = ISO8601DateFormatter().date(from: "2026-03-02T12:00:00Z")!
        #expect(quote.durationMs(startingAt: noon) == 10 * 3_600_000 + quote.apiTimeMs)
        let urgent = try ImportQuote(platform: gong, calls: 5000, nightWindow: nil)
        #expect(urgent.durationMs(startingAt: noon) == urgent.apiTimeMs)
    }

    @Test func aLearnedRatePlansTheQuoteAndTheRestOfARunningImport() throws {
        // The account really allows 1/s while Gong documents 3/s.
        let learned = LearnedRate(key: "gong:acme", perSecond: 1, documentedPerSecond: 3, ceilingPerSecond: 1.2, sinceMs: 0)
        #expect(learned.pacing(documented: gong.pacing).windows.last == RateWindow(limit: 1, windowMs: 1000))
        let quote = try ImportQuote(platform: gong, calls: 5000, nightWindow: nil, marginMs: 0, listingChains: 1, learned: learned)
        // 101 requests one second apart instead of three at a time.
        #expect(quote.apiTimeMs == 100_000)
        #expect(quote.summary.contains("1/s learned (documented 3/s, refused at 1.20/s)"))
        // Rest of a run: 1,000 calls not listed (10 pages), 3,000 without transcripts (30 batches).
        let rest = ImportQuote.remainingMs(platform: gong, pacing: learned.pacing(documented: gong.pacing), unlisted: 1000, unfinished: 3000)
        #expect(rest == 40 * (1000 + ImportQuote.defaultMarginMs))
        #expect(ImportQuote.remainingMs(platform: gong, pacing: gong.pacing, unlisted: 0, unfinished: 0) == 0)
        // Nonsense rates never trap; they leave the documented pacing alone.
        let broken = LearnedRate(key: "k", perSecond: .nan, documentedPerSecond: 3, ceilingPerSecond: 3, sinceMs: 0)
        #expect(broken.pacing(documented: gong.pacing) == gong.pacing)
        #expect(LearnedRate(key: "k", perSecond: 1e-9, documentedPerSecond: 3, ceilingPerSecond: 3, sinceMs: 0)
            .pacing(documented: gong.pacing).windows.last?.windowMs == 86_400_000)
    }

    @Test func platformsWithoutADocumentedLimitArePacedAtOnePerSecond() throws {
        let tldv = try PlatformCatalog.bundled().platform("tldv")
        #expect(tldv.rateLimit == nil)
        #expect(tldv.pacing == RateLimit([RateWindow(limit: 1, windowMs: 1000)]))
        #expect(try ImportQuote(platform: tldv, calls: 10, nightWindow: nil).price == nil)
    }

    @Test func summaryReadsLikeAnAnswer() throws {
        let text = try ImportQuote(platform: gong, calls: 5000, nightWindow: try NightWindow(parsing: "22:00-06:00")).summary
        #expect(text.contains("5,000 Gong calls"))
        #expect(text.contains("Requests: 107 at 3/s,10000/d"))
        #expect(text.contains("1 night"))
        #expect(text.contains("USD 500.00"))
    }

    @Test(arguments: ["", "22:00", "22-06", "25:00-06:00", "22:00-22:00", "22:0-06:00", "ab:cd-ef:gh"])
    func malformedNightWindowsAreRejected(_ text: String) {
        #expect(throws: ImportError.self) { try NightWindow(parsing: text) }
    }

    @Test func nightWindowsRunPastMidnight() throws {
        let night = try NightWindow(parsing: "22:00-06:00", timeZone: TimeZone(identifier: "Europe/Berlin")!)
        #expect(night.lengthMs == 8 * 3_600_000)
        let f = ISO8601DateFormatter()
        #expect(night.contains(f.date(from: "2026-01-10T22:30:00Z")!))   // 23:30 in Berlin
        #expect(night.contains(f.date(from: "2026-01-11T04:59:00Z")!))   // 05:59
        #expect(!night.contains(f.date(from: "2026-01-11T05:00:00Z")!))  // 06:00
        #expect(night.nextOpening(after: f.date(from: "2026-01-11T12:00:00Z")!) == f.date(from: "2026-01-11T21:00:00Z")!)
    }
}
