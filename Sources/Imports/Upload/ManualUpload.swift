import Basics
import Foundation
import ZIPFoundation

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

    /// Where a zip upload was unpacked (private, 0700); `discard()` removes it once imported.
    public let unpackedFolder: String?

    /// What a zip upload may hold: a hostile archive (zip bomb, `../` or absolute names,
    /// symlinks, devices) is refused with the offending entry's name, never half-unpacked.
    public struct Limits: Sendable {
        /// Total bytes unpacked.
        public var maxBytes: Int64 = 4 << 30
        /// Entries in the archive.
        public var maxEntries = 100_000
        /// Unpacked bytes per compressed byte, for entries over 1 MiB.
        public var maxRatio: Int64 = 200
        public init() {}
    }

    /// Reads an upload folder or `.zip` (unpacked into a private temporary folder after every
    /// entry is checked against `limits`). Call `discard()` when done with a zip's calls.
    public static func read(path: String, limits: Limits = Limits()) throws -> ManualUpload {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImportError(.invalidInput, "upload \(path) does not exist")
        }
        if isDirectory.boolValue { return try parse(folder: path) }
        guard path.lowercased().hasSuffix(".zip") else { throw ImportError(.invalidInput, "upload must be a folder or a .zip file") }
        let folder = try privateTemporaryFolder()
        do {
            try unpack(zip: path, into: folder, limits: limits)
            // Accept the manifest at the top or inside one top-level folder.
            var top = folder
            if !FileManager.default.fileExists(atPath: folder + "/manifest.ndjson"),
               let entries = try? FileManager.default.contentsOfDirectory(atPath: folder), entries.count == 1 {
                top = folder + "/" + entries[0]
            }
            let parsed = try parse(folder: top)
            return ManualUpload(calls: parsed.calls, media: parsed.media, rejected: parsed.rejected, unpackedFolder: folder)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    /// Removes the folder a zip upload was unpacked into (nothing for a folder upload).
    public func discard() {
        if let unpackedFolder { try? FileManager.default.removeItem(atPath: unpackedFolder) }
    }

    /// A new folder only this user can enter (mkdtemp: 0700, a name no one can guess first).
    static func privateTemporaryFolder() throws -> String {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("sb-upload-XXXXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ImportError(.invalidInput, "cannot create a temporary folder for the upload")
        }
        return String(cString: made)
    }

    /// Why an entry's name may not be unpacked; nil when it is a plain relative path.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 1024 { return "has an empty or overlong name" }
        if name.hasPrefix("/") || name.hasPrefix("\\") || name.contains(":") { return "has an absolute path" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 }) { return "has control characters in its name" }
        let parts = name.split(omittingEmptySubsequences: true) { $0 == "/" || $0 == "\\" }
        if parts.contains("..") { return "climbs out of the upload (..)" }
        return nil
    }

    /// Checks every entry first, then unpacks, counting the bytes really written (declared sizes
    /// may lie).
    static func unpack(zip path: String, into folder: String, limits: Limits) throws {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw ImportError(.invalidInput, "\(path) is not a readable zip file")
        }
        var entries: [Entry] = []
        var declared: Int64 = 0
        for entry in archive {
            entries.append(entry)
            guard entries.count <= limits.maxEntries else { throw ImportError(.invalidInput, "the zip has more than \(limits.maxEntries) entries") }
            if let problem = nameProblem(entry.path) { throw ImportError(.invalidInput, "zip entry \(entry.path.prefix(200)) \(problem)") }
            switch entry.type {
            case .file, .directory: break
            case .symlink: throw ImportError(.invalidInput, "zip entry \(entry.path.prefix(200)) is a symbolic link")
            }
            declared += Int64(clamping: entry.uncompressedSize)
            guard declared <= limits.maxBytes else { throw ImportError(.invalidInput, "the zip unpacks to more than \(limits.maxBytes) bytes") }
        }
        var written: Int64 = 0
        for entry in entries {
            let target = folder + "/" + entry.path
            if entry.type == .directory {
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                continue
            }
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            guard FileManager.default.createFile(atPath: target, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: target) else {
                throw ImportError(.invalidInput, "zip entry \(entry.path.prefix(200)) cannot be unpacked")
            }
            defer { try? handle.close() }
            var entryBytes: Int64 = 0
            let compressed = max(1, Int64(clamping: entry.compressedSize))
            do {
                _ = try archive.extract(entry, skipCRC32: false) { data in
                    entryBytes += Int64(data.count)
                    written += Int64(data.count)
                    guard written <= limits.maxBytes else { throw ImportError(.invalidInput, "the zip unpacks to more than \(limits.maxBytes) bytes") }
                    guard entryBytes <= 1 << 20 || entryBytes / compressed <= limits.maxRatio else {
                        throw ImportError(.invalidInput, "zip entry \(entry.path.prefix(200)) expands more than \(limits.maxRatio) times (a zip bomb?)")
                    }
                    try handle.write(contentsOf: data)
                }
            } catch let error as ImportError {
                throw error
            } catch {
                throw ImportError(.invalidInput, "zip entry \(entry.path.prefix(200)) is damaged")
            }
        }
    }

    /// Parses `folder/manifest.ndjson`.
    public static func parse(folder: String) throws -> ManualUpload {
        let manifest = folder + "/manifest.ndjson"
        if let attributes = try? FileManager.default.attributesOfItem(atPath: manifest) {
            guard attributes[.type] as? FileAttributeType == .typeRegular else { throw ImportError(.invalidInput, "manifest.ndjson must be a regular file") }
            guard (attributes[.size] as? Int ?? 0) <= 1 << 30 else { throw ImportError(.invalidInput, "manifest.ndjson is larger than 1 GiB") }
        }
        guard let data = FileManager.default.contents(atPath: manifest) else {
            throw ImportError(.invalidInput, "the upload has no manifest.ndjson at its top")
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        let realRoot = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
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
                rejected.append((rowName, "not a call: \(JSONProblem.describe(error))"))
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
                // A regular file inside the upload: no symlink (it could point anywhere), no device.
                let type = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.type] as? FileAttributeType
                guard !file.hasPrefix("/"), resolved.hasPrefix(root + "/"), type == .typeRegular,
                      URL(fileURLWithPath: resolved).resolvingSymlinksInPath().path.hasPrefix(realRoot + "/") else {
                    rejected.append((rowName, "media \(file) is not a regular file inside the upload")); continue
                }
                media[row.id] = resolved
            }
            calls.append(ImportedCall(
                externalId: row.id, title: row.title, startedAt: started, durationSeconds: row.durationSeconds, direction: row.direction,
                recordingURL: nil,
                participants: (row.participants ?? []).map { Participant(name: $0.name, email: $0.email, title: $0.title, affiliation: $0.affiliation, speakerId: nil) },
                transcript: (row.transcript ?? []).map { TranscriptSegment(speaker: $0.speaker, startMs: $0.startMs, endMs: $0.endMs, text: $0.text) }))
        }
        return ManualUpload(calls: calls, media: media, rejected: rejected, unpackedFolder: nil)
    }
}
