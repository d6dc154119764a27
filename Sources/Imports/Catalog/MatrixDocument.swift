import Foundation

/// The sales-enablement "Platform Support Matrix", rendered from the same data as `switchboard matrix`.
public struct MatrixDocument: Sendable {
    public let catalog: PlatformCatalog
    /// The call count the timeline column is computed for.
    public let exampleCalls: Int
    public let nightWindow: NightWindow

    public init(catalog: PlatformCatalog, exampleCalls: Int = 5000, nightWindow: NightWindow) {
        self.catalog = catalog
        self.exampleCalls = exampleCalls
        self.nightWindow = nightWindow
    }

    /// One row per platform, as plain cells.
    public var rows: [[String]] {
        catalog.platforms.map { p in
            let quote = try? ImportQuote(platform: p, calls: exampleCalls, nightWindow: nightWindow)
            let timeline: String
            switch p.status {
            case .notSupported: timeline = "n/a"
            case .manualUpload: timeline = "once the export is uploaded"
            case .supported, .inProgress:
                timeline = quote.map { "\(ImportQuote.words(ms: $0.apiTimeMs)) of API time; \($0.nights ?? 1) night\(($0.nights ?? 1) == 1 ? "" : "s")" } ?? ""
            }
            let price = p.price.map { String(format: "%@ %.0f setup + %.2f/call", $0.currency, $0.setupFee, $0.perCall) } ?? "n/a"
            return [p.name, p.status.label, p.method.label, p.metadata.available.joined(separator: ", "),
                    p.rateLimit ?? "not documented", timeline, price, p.salesNotes]
        }
    }

    public static let headers = ["Platform", "Status", "Import method", "Metadata", "Rate limit", "Timeline", "Price", "Notes for sales"]

    private var intro: String {
        "Can we import a prospect's calls, for how much, by when? Timeline for \(exampleCalls.formatted()) calls, bulk imports running in the night window \(nightWindow). For any other count: `switchboard quote --platform <id> --calls <n>`."
    }

    /// GitHub-flavoured Markdown.
    public func markdown() -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        var out = "# Platform Support Matrix\n\n\(intro)\n\n"
        out += "| " + Self.headers.joined(separator: " | ") + " |\n"
        out += "|" + String(repeating: "---|", count: Self.headers.count) + "\n"
        for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
        return out
    }

    /// A standalone HTML page.
    public func html() -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var out = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Platform Support Matrix</title>
        <style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.4rem;vertical-align:top;font-size:.9rem}th{background:#f3f3f3}</style>
        </head><body><h1>Platform Support Matrix</h1><p>\(esc(intro))</p><table><thead><tr>
        """
        out += Self.headers.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in rows { out += "<tr>" + row.map { "<td>\(esc($0))</td>" }.joined() + "</tr>\n" }
        return out + "</tbody></table></body></html>\n"
    }
}
