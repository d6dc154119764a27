import Foundation

/// The company's Gong users (`GET /v2/users`, cursor-paged) and scorecards
/// (`GET /v2/settings/scorecards`), in the shapes Gong's API reference gives: what standard Gong
/// clients call besides the calls themselves (to map `primaryUserId` to people, or to list the
/// questions of call reviews). Derived from the seed, nothing stored.
struct GongDirectory: Sendable {
    static let userCount = 12
    static let pageSize = 100
    static let workspaceId = "623457276584334"

    static func userId(_ n: Int) -> String { String(234_599_484_848_400 + n) }

    /// Times the way Gong writes them: an offset, not Z ("2018-02-17T02:30:00-08:00").
    static func gongTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: -8 * 3600)
        return formatter.string(from: date)
    }

    func user(_ n: Int, created: Date) -> [String: Any] {
        let first = SimulatedCalls.firstNames[n % SimulatedCalls.firstNames.count]
        let last = SimulatedCalls.lastNames[(n * 7) % SimulatedCalls.lastNames.count]
        let email = "\(first.lowercased().folding(options: .diacriticInsensitive, locale: nil)).\(last.lowercased().folding(options: .diacriticInsensitive, locale: nil))@askelephant.example"
        return ["id": Self.userId(n), "emailAddress": email, "created": Self.gongTime(created), "active": n % 6 != 5,
                "emailAliases": [], "trustedEmailAddress": email, "firstName": first, "lastName": last,
                "title": n == 0 ? "VP Sales" : "Account Executive", "phoneNumber": "+1 555-010-\(String(format: "%04d", n))",
                "extension": String(100 + n), "personalMeetingUrls": ["https://zoom.us/j/55501\(String(format: "%04d", n))"],
                "settings": ["webConferencesRecorded": true, "preventWebConferenceRecording": false, "telephonyCallsImported": false,
                             "emailsImported": true, "preventEmailImport": false, "nonRecordedMeetingsImported": true, "gongConnectEnabled": true],
                "managerId": n == 0 ? NSNull() : Self.userId(0) as Any, "meetingConsentPageUrl": "https://join.gong.io/consent/\(Self.userId(n))",
                "spokenLanguages": [["language": "en-US", "primary": true]]]
    }

    /// One page of users; nil for a cursor Gong would refuse.
    func users(cursor: String?, created: Date) -> (users: [[String: Any]], records: [String: Any])? {
        var offset = 0
        if let cursor {
            guard let decoded = Data(base64Encoded: cursor).map({ String(decoding: $0, as: UTF8.self) }), decoded.hasPrefix("users:"),
                  let n = Int(decoded.dropFirst(6)), n >= 0, n <= Self.userCount else { return nil }
            offset = n
        }
        let end = min(offset + Self.pageSize, Self.userCount)
        var records: [String: Any] = ["totalRecords": Self.userCount, "currentPageSize": end - offset, "currentPageNumber": offset / Self.pageSize]
        if end < Self.userCount { records["cursor"] = Data("users:\(end)".utf8).base64EncodedString() }
        return ((offset..<end).map { user($0, created: created) }, records)
    }

    func scorecards(created: Date) -> [[String: Any]] {
        let questions = ["Did the rep confirm the decision process?", "Were next steps agreed with a date?", "Overall call quality"]
        return [["scorecardId": "8843201177340001", "scorecardName": "Discovery call", "workspaceId": Self.workspaceId, "enabled": true,
                 "updaterUserId": Self.userId(0), "created": Self.gongTime(created), "updated": Self.gongTime(created),
                 "questions": questions.enumerated().map { i, text in
                     ["questionId": String(99_100 + i), "questionRevisionId": String(99_200 + i), "questionText": text,
                      "isOverall": i == questions.count - 1, "created": Self.gongTime(created), "updated": Self.gongTime(created),
                      "updaterUserId": Self.userId(0)] as [String: Any]
                 }]]
    }
}
