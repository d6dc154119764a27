import Basics
import Foundation

/// A simulated company's calls, shared by every call-platform simulator: `count` calls spread evenly over `days` days from `start`, each a
/// pure function of (seed, index) so nothing is stored.
struct SimulatedCalls: Sendable {
    let seed: UInt64
    let count: Int
    let start: Date
    let days: Int

    static let idBase: UInt64 = 7_782_342_274_025_900_000

    func id(_ index: Int) -> String { String(Self.idBase + UInt64(index)) }

    func index(ofId id: String) -> Int? {
        guard let n = UInt64(id), n >= Self.idBase, n < Self.idBase + UInt64(count) else { return nil }
        return Int(n - Self.idBase)
    }

    func started(_ index: Int) -> Date {
        start.addingTimeInterval(Double(days) * 86_400 * Double(index) / Double(max(count, 1)))
    }

    /// Indices of the calls started in [from, to).
    func indices(from: Date, to: Date) -> [Int] {
        guard count > 0, to > from else { return [] }
        let span = Double(days) * 86_400 / Double(count)
        let first = max(0, Int((from.timeIntervalSince(start) / span).rounded(.up)))
        var result: [Int] = []
        var i = first
        while i < count, started(i) < to {
            if started(i) >= from { result.append(i) }
            i += 1
        }
        return result
    }

    /// Indices of the calls that ended (vendors' `created_at`: the recording exists once the call
    /// is over) in [from, to). No call lasts a day.
    func indices(endedFrom from: Date, to: Date) -> [Int] {
        indices(from: from.addingTimeInterval(-86_400), to: to).filter {
            let end = started($0).addingTimeInterval(Double(duration($0)))
            return end >= from && end < to
        }
    }

    private func random(_ index: Int, _ salt: UInt64) -> SeededRandom {
        SeededRandom(seed: seed &* 1_000_003 &+ UInt64(index) &* 7919 &+ salt)
    }

    static let topics = ["Discovery", "Demo", "Pricing", "Renewal", "Onboarding", "QBR", "Security review", "Negotiation"]
    static let companies = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"]
    static let firstNames = ["Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farah", "Gus", "Hiro", "Iris", "Jonas"]
    static let lastNames = ["Lovelace", "Okafor", "Müller", "Ivanov", "García", "Haddad", "Nakamura", "Smith"]
    static let lines = ["Thanks for making the time today.", "Can you walk me through your current process?",
                        "We import about five thousand calls a month.", "What does the pricing look like for our team size?",
                        "Security will want to see the SOC 2 report.", "Let's schedule a follow-up with your manager.",
                        "How long does onboarding usually take?", "That integration is critical for us."]

    struct Party {
        let id: String, name: String, email: String, title: String, affiliation: String, speakerId: String
    }

    func parties(_ index: Int) -> [Party] {
        var r = random(index, 1)
        let company = Self.companies[Int(r.next() % UInt64(Self.companies.count))]
        let n = 2 + Int(r.next() % 3)
        return (0..<n).map { p in
            let first = Self.firstNames[Int(r.next() % UInt64(Self.firstNames.count))]
            let last = Self.lastNames[Int(r.next() % UInt64(Self.lastNames.count))]
            let isRep = p == 0
            let domain = isRep ? "askelephant.example" : "\(company.lowercased()).example"
            return Party(id: "\(5_600_000 + index * 10 + p)", name: "\(first) \(last)",
                         email: "\(first.lowercased().folding(options: .diacriticInsensitive, locale: nil)).\(last.lowercased().folding(options: .diacriticInsensitive, locale: nil))@\(domain)",
                         title: isRep ? "Account Executive" : "VP Operations", affiliation: isRep ? "Internal" : "External",
                         speakerId: "\(6_432_000_000 + index * 10 + p)")
        }
    }

    func title(_ index: Int) -> String {
        var r = random(index, 2)
        return "\(Self.companies[Int(r.next() % UInt64(Self.companies.count))]) — \(Self.topics[Int(r.next() % UInt64(Self.topics.count))])"
    }

    func duration(_ index: Int) -> Int {
        var r = random(index, 3)
        return 300 + Int(r.next() % 3300)
    }

    /// Monologues: (speakerId, [(start ms, end ms, text)]).
    func transcript(_ index: Int) -> [(String, [(Int, Int, String)])] {
        var r = random(index, 4)
        let speakers = parties(index).map(\.speakerId)
        var at = 1000
        return (0..<(4 + Int(r.next() % 8))).map { m in
            let sentences = (0..<(1 + Int(r.next() % 2))).map { _ -> (Int, Int, String) in
                let text = Self.lines[Int(r.next() % UInt64(Self.lines.count))]
                let start = at, end = at + 1500 + Int(r.next() % 3000)
                at = end + 200
                return (start, end, text)
            }
            return (speakers[m % speakers.count], sentences)
        }
    }

    func metaData(_ index: Int) -> [String: Any] {
        let when = GongDirectory.gongTime(started(index))
        return ["id": id(index), "url": "https://app.gong.io/call?id=\(id(index))", "title": title(index), "scheduled": when,
                "started": when, "duration": duration(index), "primaryUserId": GongDirectory.userId(index % GongDirectory.userCount),
                "direction": index % 3 == 0 ? "Inbound" : "Conference", "system": "Zoom", "scope": "External",
                "media": "Video", "language": "eng", "workspaceId": "623457276584334", "isPrivate": false]
    }
}
