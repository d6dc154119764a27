import Foundation
import Testing

@testable import Imports

/// Manual uploads are contained: a hostile zip is refused with the offending entry's name before
/// anything is unpacked, the unpacked folder is private and removed afterwards, and no media path
/// leads outside the upload.
@Suite struct UploadContainmentTests {
    static let manifest = #"{"id":"c1","title":"Discovery","media":"media/c1.mp3"}"#

    /// A zip made by python's zipfile from `script` (which gets `z`, an open ZipFile).
    static func zip(_ script: String) throws -> String {
        let path = NSTemporaryDirectory() + "sb-zip-\(UUID().uuidString.prefix(8)).zip"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n\(script)\nz.close()", path]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        return path
    }

    func refusal(_ path: String, limits: ManualUpload.Limits = .init()) -> String? {
        defer { try? FileManager.default.removeItem(atPath: path) }
        do { _ = try ManualUpload.read(path: path, limits: limits); return nil } catch let error as ImportError { return error.message } catch { return "\(error)" }
    }

    @Test(arguments: [("z.writestr('../evil.txt', 'x')", "../evil.txt climbs out"),
                      ("z.writestr('a/../../evil.txt', 'x')", "climbs out"),
                      ("z.writestr('/etc/evil', 'x')", "absolute path"),
                      ("z.writestr('C:/evil', 'x')", "absolute path"),
                      ("i = zipfile.ZipInfo('media/c1.mp3'); i.external_attr = (0o120777 << 16); z.writestr(i, '/etc/passwd')", "media/c1.mp3 is a symbolic link")])
    func hostileEntryNamesAndTypesAreRefusedByName(_ script: String, _ words: String) throws {
        let message = refusal(try Self.zip("z.writestr('manifest.ndjson', '\(Self.manifest)')\n" + script))
        #expect(message?.contains(words) == true, "\(message ?? "accepted")")
    }

    @Test func zipBombsAndEntryFloodsAreRefused() throws {
        var small = ManualUpload.Limits()
        small.maxBytes = 5_000_000
        let bomb = try Self.zip("z.writestr('manifest.ndjson', '\(Self.manifest)')\nz.writestr('media/c1.mp3', b'\\0' * 20_000_000)")
        #expect(refusal(bomb, limits: small)?.contains("more than 5000000 bytes") == true)
        let ratio = try Self.zip("z.writestr('manifest.ndjson', '\(Self.manifest)')\nz.writestr('media/c1.mp3', b'\\0' * 20_000_000)")
        #expect(refusal(ratio)?.contains("expands more than 200 times") == true)
        var few = ManualUpload.Limits()
        few.maxEntries = 3
        let flood = try Self.zip("for i in range(10): z.writestr('f%d.txt' % i, 'x')")
        #expect(refusal(flood, limits: few)?.contains("more than 3 entries") == true)
    }

    @Test func aGoodZipIsUnpackedIntoAPrivateFolderThatDiscardRemoves() throws {
        let path = try Self.zip("z.writestr('manifest.ndjson', '\(Self.manifest)')\nz.writestr('media/c1.mp3', 'fake mp3')")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let upload = try ManualUpload.read(path: path)
        #expect(upload.calls.map(\.externalId) == ["c1"])
        let folder = try #require(upload.unpackedFolder)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "mode \(String(mode, radix: 8))")
        #expect(upload.media["c1"]?.hasPrefix(folder) == true)
        upload.discard()
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func mediaThatIsASymlinkInAFolderUploadIsRejected() throws {
        let folder = NSTemporaryDirectory() + "sb-upload-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder + "/media", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/media/c1.mp3", withDestinationPath: "/etc/passwd")
        try Self.manifest.write(toFile: folder + "/manifest.ndjson", atomically: true, encoding: .utf8)
        let upload = try ManualUpload.read(path: folder)
        #expect(upload.calls.isEmpty)
        #expect(upload.rejected.first?.reason.contains("not a regular file inside the upload") == true)
    }
}
