import Logging
import RelaisLogging
import RelaisQueue
import ServiceLifecycle
import SystemdClient
import UnixSignals

/// Reloads the configuration on SIGHUP (`systemctl reload relais`) and applies what can
/// change safely while running: the log level and the batch size. Anything else that
/// changed is reported as needing a restart; an invalid new configuration is reported
/// and ignored. systemd hears `RELOADING=1` first and `READY=1` once the reload is done,
/// so that `systemctl reload` returns when it has taken effect.
struct ReloadService: Service {
    let initial: RelaisConfiguration
    let engine: QueueEngine
    let logger: Logger

    func run() async throws {
        var current = initial
        let notifier = SystemdNotifier()
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            notifier.reloading()
            defer { notifier.ready() }
            let next: RelaisConfiguration
            do {
                next = try await RelaisConfiguration.load()
            } catch {
                logger.error("configuration reload refused, keeping the running configuration", metadata: ["error": "\(error)"])
                continue
            }
            var applied: [String] = []
            if next.logLevel != current.logLevel {
                applied.append("log_level=\(next.logLevel)")
            }
            if next.queue.batchSize != current.queue.batchSize {
                engine.tunables.batchSize = next.queue.batchSize
                applied.append("batch_size=\(next.queue.batchSize)")
            }
            let needRestart = next.restartOnlyDifferences(from: current)
            logger.notice("configuration reloaded", metadata: [
                "applied": "\(applied.isEmpty ? "nothing changed" : applied.joined(separator: ","))",
                "needs_restart": "\(needRestart.isEmpty ? "-" : needRestart.joined(separator: ","))",
            ])
            // After the line above, so that a quieter level does not hide the news of itself.
            LogLevelControl.shared.current = next.logLevel
            current.logLevel = next.logLevel
            current.queue.batchSize = next.queue.batchSize
        }
    }
}

extension RelaisConfiguration {
    /// The keys that differ from `other` and only take effect after a restart.
    func restartOnlyDifferences(from other: RelaisConfiguration) -> [String] {
        var keys: [String] = []
        if redis != other.redis { keys.append("redis_url") }
        if databaseURL != other.databaseURL { keys.append("database_url") }
        if httpHost != other.httpHost || httpPort != other.httpPort { keys.append("http_address") }
        if httpIdleTimeout != other.httpIdleTimeout { keys.append("http_idle_timeout") }
        if httpMaxConnections != other.httpMaxConnections { keys.append("http_max_connections") }
        var a = queue, b = other.queue
        a.batchSize = 0
        b.batchSize = 0
        if a != b { keys.append("queue settings") }
        if shutdownTimeout != other.shutdownTimeout { keys.append("shutdown_timeout") }
        if ledgerRetention != other.ledgerRetention { keys.append("ledger_retention") }
        if delivery.webhookAddresses != other.delivery.webhookAddresses { keys.append("webhook_allow_networks") }
        if delivery.connections != other.delivery.connections { keys.append("email_connections/sms_connections") }
        if delivery.rates != other.delivery.rates || delivery.shopRates != other.delivery.shopRates {
            keys.append("email/sms rates")
        }
        return keys
    }
}
