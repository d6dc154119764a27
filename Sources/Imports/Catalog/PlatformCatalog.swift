import Foundation

/// Every platform of the matrix, read from the data files shipped with the module.
public struct PlatformCatalog: Sendable {
    public let platforms: [Platform]

    /// Loads `Platforms/*.json` from the module's resources, sorted by status then name.
    public static func bundled() throws -> PlatformCatalog {
        let folder = Bundle.module.bundleURL.appendingPathComponent("Platforms")
        let urls = ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }
        guard !urls.isEmpty else { throw ImportError(.invalidInput, "no platform data files in \(folder.path)") }
        let decoder = JSONDecoder()
        let platforms = try urls.map { url -> Platform in
            do { return try decoder.decode(Platform.self, from: Data(contentsOf: url)) } catch {
                throw ImportError(.invalidInput, "platform file \(url.lastPathComponent) is malformed: \(error)")
            }
        }
        return PlatformCatalog(platforms: platforms)
    }

    public init(platforms: [Platform]) {
        let order = Platform.Status.allCases
        self.platforms = platforms.sorted {
            (order.firstIndex(of: $0.status)!, $0.name.lowercased()) < (order.firstIndex(of: $1.status)!, $1.name.lowercased())
        }
    }

    /// The platform with this id or name (case-insensitive); the error lists the known ones.
    public func platform(_ idOrName: String) throws -> Platform {
        let wanted = idOrName.lowercased()
        if let found = platforms.first(where: { $0.id == wanted || $0.name.lowercased() == wanted }) { return found }
        throw ImportError(.unknownPlatform, "unknown platform '\(idOrName)'; known platforms: \(platforms.map(\.id).sorted().joined(separator: ", "))")
    }
}
