import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, killed and reaped in `stop()`.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t

    /// Starts `arguments` with standard output and error going to `outputPath`.
    public init(_ arguments: [String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Test threads block signals (dispatch does); the child must start with none blocked and
        // default handlers, or SIGTERM would not stop it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard result == 0 else { throw CommandFailed(command: arguments.joined(separator: " "), output: "spawn failed: \(result)") }
        self.pid = pid
    }

    /// Sends `signal` and waits up to `timeout` for the exit; returns the exit status (or
    /// 128 + signal number), nil if it is still running.
    public func signal(_ signal: Int32, waitingUpTo timeout: Duration) -> Int32? {
        kill(self.pid, signal)
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(self.pid, &status, WNOHANG) == self.pid {
                let signalled = status & 0x7f
                return signalled == 0 ? (status >> 8) & 0xff : 128 + signalled
            }
            usleep(20_000)
        }
        return nil
    }

    /// Whether the process has exited (and been reaped).
    public var hasExited: Bool {
        var status: Int32 = 0
        return waitpid(self.pid, &status, WNOHANG) != 0
    }

    /// SIGTERM, then SIGKILL if it has not exited within two seconds; always reaped.
    public func stop() {
        kill(self.pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(self.pid, &status, WNOHANG) != 0 { return }
            usleep(20_000)
        }
        kill(self.pid, SIGKILL)
        waitpid(self.pid, &status, 0)
    }
}

/// Starts a server that must be told its port: picks a free port, starts it, and waits until it
/// listens. A port picked beforehand can be taken by a parallel test before the server binds it,
/// so a server that exits (it lost the port) means another try with another port.
func startListening(_ name: String, timeout: TimeInterval, attempts: Int = 5, _ start: (Int) throws -> ChildProcess) throws -> (ChildProcess, Int) {
    for _ in 0..<attempts {
        let port = try freePort()
        guard !isListening(port) else { continue }
        let process = try start(port)
        let deadline = Date().addingTimeInterval(timeout)
        while !process.hasExited, !isListening(port), Date() < deadline { usleep(20_000) }
        if !process.hasExited, isListening(port) {
            // A server that lost the port to someone else exits at once.
            usleep(50_000)
            if !process.hasExited { return (process, port) }
        }
        process.stop()
    }
    throw CommandFailed(command: name, output: "did not start listening in \(attempts) attempts")
}

/// A free TCP port on 127.0.0.1 (bound once, then released).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw CommandFailed(command: "bind", output: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on the port.
public func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// `git daemon` serving a directory over git://.
public final class GitDaemon: @unchecked Sendable {
    public let process: ChildProcess
    public let port: Int

    /// - Parameters:
    ///   - allowPush: enable `receive-pack`, so clients can push.
    public init(serving directory: URL, allowPush: Bool = false) throws {
        // The daemon itself, not the `git daemon` wrapper, so that stopping it stops the server.
        let daemon = try run(["git", "--exec-path"]) + "/git-daemon"
        (self.process, self.port) = try startListening("git daemon", timeout: 10) { port in
            try ChildProcess(
                [
                    daemon, "--reuseaddr", "--export-all", "--listen=127.0.0.1", "--port=\(port)",
                    "--base-path=\(directory.path)",
                ] + (allowPush ? ["--enable=receive-pack"] : []) + [directory.path],
                outputPath: directory.deletingLastPathComponent().appendingPathComponent("daemon.log").path
            )
        }
    }

    public func url(_ name: String) -> String { "git://127.0.0.1:\(self.port)/\(name)" }

    deinit {
        self.process.stop()
    }
}

/// `git http-backend` behind basic auth (Fixtures/git-http-server.py).
public final class GitHTTPServer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: Int
    public let log: URL

    public init(serving directory: URL, username: String, password: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/git-http-server.py")
        let base = directory.deletingLastPathComponent().appendingPathComponent("http-\(UUID().uuidString.prefix(6))")
        self.log = URL(fileURLWithPath: base.path + ".log")
        let output = base.path + ".out"
        FileManager.default.createFile(atPath: self.log.path, contents: nil)
        self.process = try ChildProcess(["python3", script.path, directory.path, username, password, self.log.path], outputPath: output)
        self.port = try waitForPort(in: output, process: self.process, name: "git-http-server.py")
    }

    public func url(_ name: String) -> String { "http://127.0.0.1:\(self.port)/\(name)" }

    /// Requests that transferred objects: one per network fetch.
    public var uploadPackPosts: Int {
        ((try? String(contentsOf: self.log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("POST") && $0.hasSuffix("git-upload-pack") }.count
    }

    deinit {
        self.process.stop()
    }
}

/// `Fixtures/http-receiver.py`: a Slack- or webhook-style receiver that records what it is sent.
public final class HTTPReceiver: @unchecked Sendable {
    public let process: ChildProcess
    public let port: Int
    public let log: URL

    /// - Parameters:
    ///   - statuses: answers for the first requests, then 200.
    public init(directory: URL, statuses: [Int] = []) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/http-receiver.py")
        let base = directory.appendingPathComponent("receiver-\(UUID().uuidString.prefix(6))")
        self.log = URL(fileURLWithPath: base.path + ".jsonl")
        FileManager.default.createFile(atPath: self.log.path, contents: nil)
        let output = base.path + ".out"
        self.process = try ChildProcess(["python3", script.path, self.log.path, statuses.map(String.init).joined(separator: ",")], outputPath: output)
        self.port = try waitForPort(in: output, process: self.process, name: "http-receiver.py")
    }

    public var url: String { "http://127.0.0.1:\(self.port)/hook" }

    /// Every request received, in order: status answered, headers (lower-cased names), body.
    public var requests: [(status: Int, headers: [String: String], body: String)] {
        ((try? String(contentsOf: self.log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            let headers = (object["headers"] as? [String: String] ?? [:]).reduce(into: [String: String]()) { $0[$1.key.lowercased()] = $1.value }
            return (object["status"] as? Int ?? 0, headers, object["body"] as? String ?? "")
        }
    }

    deinit {
        self.process.stop()
    }
}

/// Debian's aiosmtpd (`python3-aiosmtpd`), storing each message in a maildir.
public final class SMTPServer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: Int
    public let maildir: URL

    /// A plain server (no TLS, no AUTH).
    public init(directory: URL) throws {
        let maildir = directory.appendingPathComponent("maildir-\(UUID().uuidString.prefix(6))")
        self.maildir = maildir
        (self.process, self.port) = try startListening("aiosmtpd (is python3-aiosmtpd installed?)", timeout: 15) { port in
            try ChildProcess(
                ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "-c", "aiosmtpd.handlers.Mailbox", maildir.path],
                outputPath: directory.appendingPathComponent("smtp-\(port).log").path
            )
        }
    }

    /// A server that requires STARTTLS, with a self-signed certificate for `localhost` made here
    /// (`certificate` is its PEM path, to trust), and AUTH as `username`/`password`.
    public init(directory: URL, username: String, password: String) throws {
        let name = "smtp-tls-\(UUID().uuidString.prefix(6))"
        self.maildir = directory.appendingPathComponent("maildir-\(name)")
        let key = directory.appendingPathComponent("\(name)-key.pem").path
        let certificate = directory.appendingPathComponent("\(name)-cert.pem").path
        _ = try run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
        ])
        self.certificate = certificate
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/smtp-tls-server.py")
        let output = directory.appendingPathComponent("\(name).out").path
        self.process = try ChildProcess(["/usr/bin/python3", script.path, self.maildir.path, certificate, key, username, password], outputPath: output)
        self.port = try waitForPort(in: output, process: self.process, name: "smtp-tls-server.py")
    }

    /// For a TLS server: the self-signed certificate to trust.
    public private(set) var certificate: String?

    /// The messages received, as raw RFC 5322 text.
    public var messages: [String] {
        let new = self.maildir.appendingPathComponent("new")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: new.path)) ?? []
        return names.sorted().compactMap { try? String(contentsOf: new.appendingPathComponent($0), encoding: .utf8) }
    }

    deinit {
        self.process.stop()
    }
}

/// Reads `PORT=<n>` from a child's output file.
func waitForPort(in output: String, process: ChildProcess, name: String) throws -> Int {
    let deadline = Date().addingTimeInterval(10)
    while true {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        if let port = text.split(separator: "\n").first(where: { $0.hasPrefix("PORT=") }).flatMap({ Int($0.dropFirst(5)) }) { return port }
        guard Date() < deadline else {
            process.stop()
            throw CommandFailed(command: name, output: text)
        }
        usleep(20_000)
    }
}
