import Basics
import Crypto

/// A Lua script known by its SHA-1, so it is sent once per Redis and then called by hash.
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Hex.encode(Insecure.SHA1.hash(data: Array(source.utf8)))
    }
}
