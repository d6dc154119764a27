import Basics
import ArgumentParser
import Foundation
import Imports
import Queue

/// `switchboard matrix`: the Platform Support Matrix, for people or as a document.
struct MatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "matrix", abstract: "Which platforms we import from, how, and for how much.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, html, json }

    @Option(help: "text (default), markdown, html or json.") var format = Format.text
    @Flag(help: "Print JSON (the same as --format json).") var json = false
    @Option(help: "Write to this file instead of standard output.") var output: String?
    @Option(help: "Call count for the timeline column.") var calls = 5000
    @Option(help: "Night window for bulk imports.") var nightWindow = "22:00-06:00"

    func validate() throws {
        guard (1...10_000_000).contains(calls) else { throw ValidationError("--calls must be between 1 and 10000000") }
        do { _ = try NightWindow(parsing: nightWindow) } catch { throw ValidationError("\(error)") }
        if json && format != .text && format != .json { throw ValidationError("--json and --format \(format.rawValue) ask for two formats") }
    }

    func run() throws {
        let catalog = try PlatformCatalog.bundled()
        let document = MatrixDocument(catalog: catalog, exampleCalls: calls, nightWindow: try NightWindow(parsing: nightWindow))
        let text: String
        switch json ? .json : format {
        case .markdown: text = document.markdown()
        case .html: text = document.html()
        case .json:
            text = try JSONEncoder.sortedText(catalog.platforms, pretty: true) + "\n"
        case .text:
            text = document.rows.map { row in
                "\(row[0]) — \(row[1]) (\(row[2]))\n  metadata: \(row[3])\n  rate limit: \(row[4])\n  \(calls.formatted()) calls: \(row[5])\n  price: \(row[6])\n  \(row[7])\n"
            }.joined(separator: "\n")
        }
        if let output {
            do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch { throw CLIFailure("cannot write \(output): \(error.localizedDescription)") }
            print("wrote \(output)")
        } else {
            print(text, terminator: "")
        }
    }
}

/// `switchboard quote`: price and timeline for a platform and a call count.
struct QuoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quote", abstract: "Price and timeline of an import, on the spot.")

    @Option(help: "Platform id or name (see `switchboard matrix`).") var platform: String
    @Option(help: "How many calls.") var calls: Int
    @Option(help: "Night window for bulk imports (HH:MM-HH:MM).") var nightWindow = "22:00-06:00"
    @Flag(help: "Urgent (onboarding, deal at risk): starts at once instead of in the night window.") var urgent = false
    @Option(help: "Plan with the rate learned for this tenant's account (needs Redis), when its vendor refused below the documented limit.")
    var tenant: String?
    @OptionGroup var options: GlobalOptions

    func validate() throws {
        guard (1...10_000_000).contains(calls) else { throw ValidationError("--calls must be between 1 and 10000000") }
        do { _ = try NightWindow(parsing: nightWindow) } catch { throw ValidationError("\(error)") }
        if let tenant, let problem = TenantID.problem(tenant) { throw ValidationError("--tenant: \(problem)") }
    }

    func run() async throws {
        let found: Platform
        do { found = try PlatformCatalog.bundled().platform(platform) } catch let error as ImportError { throw ValidationError(error.message) }
        var learned: LearnedRate?
        if let tenant {
            learned = try await withRedis(options) { redis, s in
                try await JobQueue(name: "imports", prefix: s.keyPrefix, redis: redis).learnedRate(key: "\(found.id):\(tenant)")
            }
        }
        let quote = try ImportQuote(platform: found, calls: calls, nightWindow: urgent ? nil : try NightWindow(parsing: nightWindow), learned: learned)
        if options.json {
            let fields: [String: String] = [
                "platform": found.id, "status": found.status.rawValue, "calls": String(calls), "requests": String(quote.requests),
                "apiTimeSeconds": String(quote.apiTimeMs / 1000), "nights": quote.nights.map(String.init) ?? "",
                "price": quote.price.map { String(format: "%.2f", $0) } ?? "", "currency": found.price?.currency ?? "",
                "learnedPerSecond": learned.map { String(format: "%.2f", $0.perSecond) } ?? "",
            ]
            print(try JSONEncoder.sortedText(fields, pretty: true))
        } else {
            print(quote.summary)
        }
    }
}
