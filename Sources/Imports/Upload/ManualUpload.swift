import Foundation

/// The manual-upload format, for platforms without an API import (docs/manual-upload.md):
/// a folder, or a zip of one, holding `manifest.ndjson` (one call per line) and optional media
/// files referenced by relative path. A malformed line is reported with its number and the rest
/// are imported.
public struct ManualUpload: Sendable {
    /// The calls that parsed.
    public let calls: [ImportedCall]
    /// Media files to copy, by call id (absolute source paths inside the upload).
    public let media: [String: String]
    /// Lines that did not, as ("line N", reason).
    public let rejected: [(row: String, reason: String)]

    struct Row: Decodable {
        struct Person: Decodable { let name: String?; let email: String?; let title: String?; let affiliation: String? }
        struct Segment: Decodable { let speaker: String?; let startMs: Int; let endMs: Int; let text: String }
        let id: String
        let title: String?
        let startedAt: String?
        let durationSeconds: Int?
        let direction: String?
        let participants: [Person]?
        let transcript: [Segment]?
        let media: String?
    }

    /// Reads an upload folder or `.zip` (unpacked with `unzip` into a temporary folder).
    public static func read(path: String) throws -> ManualUpload {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImportError(.invalidInput, "upload \(path) does not exist")
        }
        if isDirectory.boolValue { return try parse(folder: path) }
        guard path.lowercased().hasSuffix(".zip") else { throw ImportError(.invalidInput, "upload must be a folder or a .zip file") }
        let folder = NSTemporaryDirectory() + "sb-upload-\(UUID().uuidString)"
        let unzip = Process()
        unzip.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
        unzip.arguments = ["-q", "-o", path, "-d", folder]
        do { try unzip.run() } catch { throw ImportError(.invalidInput, "cannot run unzip (apt-get install unzip): \(error)") }
        unzip.waitUntilExit()
        guard unzip.terminationStatus == 0 else { throw ImportError(.invalidInput, "\(path) is not a readable zip file") }
        // Accept the manifest at the top or inside one top-level folder.
        if FileManager.default.fileExists(atPath: folder + "/manifest.ndjson") { return try parse(folder: folder) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        if entries.count == 1 { return try parse(folder: folder + "/" + entries[0]) }
        return try parse(folder: folder)
    }

    /// Parses `folder/manifest.ndjson`.
    public static func parse(folder: String) throws -> ManualUpload {
        guard let data = FileManager.default.contents(atPath: folder + "/manifest.ndjson") else {
            throw ImportError(.invalidInput, "the upload has no manifest.ndjson at its top")
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        var calls: [ImportedCall] = []
        var media: [String: String] = [:]
        var rejected: [(String, String)] = []
        var seen = Set<String>()
        let decoder = JSONDecoder()
        let iso = ISO8601DateFormatter()
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            let rowName = "line \(index + 1)"
            let row: Row
            do { row = try decoder.decode(Row.self, from: Data(text.utf8)) } catch {
                rejected.append((rowName, "not a call: \(Self.reason(error))"))
                continue
            }
            guard !row.id.isEmpty, row.id.count <= 200 else { rejected.append((rowName, "id must be 1-200 characters")); continue }
            guard seen.insert(row.id).inserted else { rejected.append((rowName, "id \(row.id) appears twice")); continue }
            var started: Date?
            if let s = row.startedAt {
                guard let d = iso.date(from: s) else { rejected.append((rowName, "startedAt must be ISO-8601 (2025-03-02T14:00:00Z)")); continue }
                started = d
            }
            if let d = row.durationSeconds, d < 0 { rejected.append((rowName, "durationSeconds must not be negative")); continue }
            if let bad = row.transcript?.firstIndex(where: { $0.startMs < 0 || $0.endMs < $0.startMs }) {
                rejected.append((rowName, "transcript segment \(bad + 1): endMs must be at least startMs, both from 0")); continue
            }
            if let file = row.media {
                let resolved = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path
                guard !file.hasPrefix("/"), resolved.hasPrefix(root + "/"), FileManager.default.fileExists(atPath: resolved) else {
                    rejected.append((rowName, "media \(file) is not a file inside the upload")); continue
                }
                media[row.id] = resolved
            }
            calls.append(ImportedCall(
                externalId: row.id, title: row.title, startedAt: started, durationSeconds: row.durationSeconds, direction: row.direction,
                recordingURL: nil,
                participants: (row.participants ?? []).map { Participant(name: $0.name, email: $0.email, title: $0.title, affiliation: $0.affiliation, speakerId: nil) },
                transcript: (row.transcript ?? []).map { TranscriptSegment(speaker: $0.speaker, startMs: $0.startMs, endMs: $0.endMs, text: $0.text) }))
        }
        return ManualUpload(calls: calls, media: media, rejected: rejected)
    }

    static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted: return "malformed JSON"
        default: return "\(error)"
        }
    }
}
