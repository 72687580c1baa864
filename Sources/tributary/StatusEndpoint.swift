import ArgumentParser
import Hummingbird
import Logging
import ServiceLifecycle

/// `/healthz`, `/readyz` and `/metrics` for a service without its own HTTP server (workers, the notifier).
enum StatusEndpoint {
    /// - Parameters:
    ///   - readiness: nil when ready (with a line to show), or the reason it is not.
    ///   - name: printed as `<NAME>_HTTP=http://host:port` once listening.
    static func make(
        address: String,
        name: String,
        readiness: @escaping @Sendable () -> (ready: Bool, reason: String),
        metrics: @escaping @Sendable () -> String,
        logger: Logger
    ) throws -> some Service {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("--http-address must be host:port")
        }
        let host = String(address[..<colon])
        let router = Router()
        router.get("/healthz") { _, _ in "alive\n" }
        router.get("/readyz") { _, _ -> Response in
            let (ready, detail) = readiness()
            return Response(status: ready ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: detail + "\n")))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics())))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in printLine("\(name)_HTTP=http://\(host):\(channel.localAddress?.port ?? port)") },
            logger: logger
        )
    }
}
