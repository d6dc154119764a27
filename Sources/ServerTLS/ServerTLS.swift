import Foundation
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// HTTPS for a server: the certificate chain and private key it presents (PEM files), loaded
/// once at start. TLS 1.2 is the oldest version offered. Every Switchboard server (console,
/// router, the workers' operator endpoints, the simulators) takes one from SB_TLS_CERT_FILE and
/// SB_TLS_KEY_FILE; with neither set it serves plain HTTP.
public struct ServerTLS: Sendable {
    /// PEM file with the server's certificate first, then any intermediates.
    public let certificateFile: String
    /// PEM file with the certificate's private key.
    public let keyFile: String
    /// The loaded configuration (a missing or unreadable file fails at start, not per connection).
    public let configuration: TLSConfiguration

    /// Loads both files; throws `ServerTLSError` naming the file that cannot be used.
    public init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw ServerTLSError("SB_TLS_CERT_FILE=\(certificateFile) is not a readable PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw ServerTLSError("SB_TLS_CERT_FILE=\(certificateFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch {
            throw ServerTLSError("SB_TLS_KEY_FILE=\(keyFile) is not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        self.configuration = configuration
    }

    /// Reads SB_TLS_CERT_FILE and SB_TLS_KEY_FILE: nil when neither is set (plain HTTP), an
    /// error when only one is.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerTLS? {
        let cert = environment["SB_TLS_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let key = environment["SB_TLS_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        switch (cert, key) {
        case (nil, nil): return nil
        case (let cert?, let key?): return try ServerTLS(certificateFile: cert, keyFile: key)
        default: throw ServerTLSError("SB_TLS_CERT_FILE and SB_TLS_KEY_FILE must be set together")
        }
    }

    /// A context for servers that put `NIOSSLServerHandler` in their own pipeline (the router).
    public func makeContext() throws -> NIOSSLContext { try NIOSSLContext(configuration: configuration) }

    /// `base` (HTTP/1 unless given) behind TLS.
    public func serverBuilder(_ base: HTTPServerBuilder = .http1()) throws -> HTTPServerBuilder {
        try .tls(base, tlsConfiguration: configuration)
    }

    /// The server builder for `tls`: `base` behind TLS when it is set, `base` alone otherwise.
    public static func builder(_ tls: ServerTLS?, _ base: HTTPServerBuilder = .http1()) throws -> HTTPServerBuilder {
        guard let tls else { return base }
        return try tls.serverBuilder(base)
    }
}

/// A TLS setting that cannot be used; the message names the variable.
public struct ServerTLSError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
