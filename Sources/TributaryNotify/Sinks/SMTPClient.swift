import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Sends one message over SMTP (RFC 5321): plain, STARTTLS (RFC 3207) or implicit TLS (RFC 8314),
/// with AUTH PLAIN or LOGIN. One connection per message: notifications are rare, and a fresh
/// connection never inherits a half-broken session.
struct SMTPClient: Sendable {
    enum Security: Sendable { case none, startTLS, implicitTLS }

    struct Message: Sendable {
        var from: String
        var to: [String]
        var subject: String
        var body: String
        var messageID: String
    }

    let host: String
    let port: Int
    let security: Security
    let credentials: (username: String, password: String)?
    /// PEM file of certificates to trust instead of the system's.
    let caFile: String?
    let timeout: Duration

    /// - Throws: `DeliveryFailure`: retryable for 4yz replies and transport errors, not for 5yz.
    func send(_ message: Message) async throws {
        do {
            try await self.withTimeout { try await self.converse(message) }
        } catch let failure as DeliveryFailure {
            throw failure
        } catch {
            throw DeliveryFailure(message: "SMTP \(self.host):\(self.port): \(Self.describe(error))", isRetryable: true)
        }
    }

    private func converse(_ message: Message) async throws {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let caFile = self.caFile { tlsConfiguration.trustRoots = .file(caFile) }
        let sslContext = try NIOSSLContext(configuration: tlsConfiguration)
        // SNI takes names only; for an address the certificate is checked against the address.
        let host: String? = self.host.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) ? nil : self.host
        let implicitTLS = self.security == .implicitTLS
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var session = Session(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await session.expect(220)
            var capabilities = try await session.command("EHLO tributary", expect: 250)
            if self.security == .startTLS {
                guard capabilities.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                    throw DeliveryFailure(message: "SMTP \(self.host):\(self.port) does not offer STARTTLS", isRetryable: false)
                }
                _ = try await session.command("STARTTLS", expect: 220)
                // Anything after the 220 arrived in clear text and would be read as if it came over TLS.
                guard session.hasNoBufferedInput else {
                    throw DeliveryFailure(message: "SMTP \(self.host):\(self.port) sent data after agreeing to STARTTLS", isRetryable: false)
                }
                // Nothing may be buffered between the 220 and the handshake; the server waits for it.
                try await channel.channel.pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host), position: .first).get()
                capabilities = try await session.command("EHLO tributary", expect: 250)
            }
            if let credentials = self.credentials {
                let mechanisms = capabilities.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ").map(String.init) ?? []
                if mechanisms.contains("PLAIN") || !mechanisms.contains("LOGIN") {
                    let token = Data("\0\(credentials.username)\0\(credentials.password)".utf8).base64EncodedString()
                    _ = try await session.command("AUTH PLAIN \(token)", expect: 235, redacted: "AUTH PLAIN", retryingPermanent: true)
                } else {
                    _ = try await session.command("AUTH LOGIN", expect: 334)
                    _ = try await session.command(Data(credentials.username.utf8).base64EncodedString(), expect: 334, redacted: "AUTH LOGIN user")
                    _ = try await session.command(Data(credentials.password.utf8).base64EncodedString(), expect: 235, redacted: "AUTH LOGIN password", retryingPermanent: true)
                }
            }
            _ = try await session.command("MAIL FROM:<\(message.from)>", expect: 250)
            for recipient in message.to {
                _ = try await session.command("RCPT TO:<\(recipient)>", expect: 250, 251)
            }
            _ = try await session.command("DATA", expect: 354)
            _ = try await session.command(Self.encode(message) + "\r\n.", expect: 250)
            _ = try? await session.command("QUIT", expect: 221)
        }
    }

    /// Headers and a dot-stuffed body with CRLF line ends (RFC 5322).
    static func encode(_ message: Message) -> String {
        let date = Date().formatted(.dateTime.locale(Locale(identifier: "en_US_POSIX")).weekday(.abbreviated).day().month(.abbreviated).year().hour(.twoDigits(amPM: .omitted)).minute(.twoDigits).second(.twoDigits).timeZone(.iso8601(.short)))
        let subject = message.subject.allSatisfy(\.isASCII) ? message.subject : "=?UTF-8?B?\(Data(message.subject.utf8).base64EncodedString())?="
        let boundary = "tributary-\(UUID().uuidString.lowercased())"
        let headers = [
            "From: \(message.from)",
            "To: \(message.to.joined(separator: ", "))",
            "Subject: \(subject)",
            "Date: \(date)",
            "Message-ID: <\(message.messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
        ]
        // The HTML alternative is the text, escaped and preformatted, so mail clients keep its layout.
        let html = "<html><body><pre style=\"font-family: monospace\">"
            + message.body.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            + "</pre></body></html>"
        let parts = [
            "--\(boundary)", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", message.body,
            "--\(boundary)", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", html,
            "--\(boundary)--", "",
        ].joined(separator: "\n")
        let body = parts
            .replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
            .joined(separator: "\r\n")
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    private func withTimeout<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: self.timeout)
                throw DeliveryFailure(message: "SMTP \(self.host):\(self.port) did not finish within \(self.timeout)", isRetryable: true)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOSSLError { return "TLS: \(error)" }
        if let error = error as? IOError { return error.description }
        return "\(type(of: error))"
    }

    /// Reply lines in, commands out.
    private struct Session {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var buffer = ByteBuffer()

        var hasNoBufferedInput: Bool { self.buffer.readableBytes == 0 }

        /// Sends `line` and reads the reply; returns the reply's text lines.
        /// - Parameters:
        ///   - redacted: how to name the command in errors, for commands that carry secrets.
        ///   - retryingPermanent: retry even a 5yz answer — a rejected login can be fixed by
        ///     rotating the secret, which the next attempt reads again.
        mutating func command(_ line: String, expect codes: Int..., redacted: String? = nil, retryingPermanent: Bool = false) async throws -> [String] {
            try await self.outbound.write(ByteBuffer(string: line + "\r\n"))
            return try await self.expect(codes, after: redacted ?? String(line.prefix(40)), retryingPermanent: retryingPermanent)
        }

        mutating func expect(_ codes: Int...) async throws {
            _ = try await self.expect(codes, after: "connect", retryingPermanent: false)
        }

        private mutating func expect(_ codes: [Int], after what: String, retryingPermanent: Bool) async throws -> [String] {
            var lines: [String] = []
            while true {
                let line = try await self.readLine()
                guard line.count >= 3, let code = Int(line.prefix(3)) else {
                    throw DeliveryFailure(message: "SMTP: unexpected reply to \(what)", isRetryable: true)
                }
                lines.append(String(line.dropFirst(4)))
                if line.count > 3 && line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
                guard codes.contains(code) else {
                    // 4yz: transient; 5yz: permanent. The reply text is the server's, never a secret of ours.
                    throw DeliveryFailure(message: "SMTP: \(what) answered \(line.prefix(200))", isRetryable: code < 500 || retryingPermanent)
                }
                return lines
            }
        }

        private mutating func readLine() async throws -> String {
            while true {
                if let view = self.buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = view - self.buffer.readerIndex + 1
                    let line = self.buffer.readString(length: length) ?? ""
                    return line.trimmingCharacters(in: .newlines)
                }
                guard var chunk = try await self.inbound.next() else {
                    throw DeliveryFailure(message: "SMTP: the server closed the connection", isRetryable: true)
                }
                self.buffer.writeBuffer(&chunk)
            }
        }
    }
}
