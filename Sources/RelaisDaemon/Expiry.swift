import Foundation
import Logging
import RelaisDomain
import RelaisStore

/// Expires ready orders whose pickup deadline passed, on a thread of its own: once a
/// second, and at once again while there are more (after downtime it catches up,
/// oldest deadline first).
struct ExpiryLoop: Sendable {
    let databaseURL: String
    let channels: Set<Channel>
    let logger: Logger

    func run(isStopping: @Sendable () -> Bool) {
        var processor: OrderProcessor?
        var failures = 0
        while !isStopping() {
            do {
                if processor == nil { processor = try OrderProcessor(conninfo: databaseURL, channels: channels) }
                let expired = try processor!.expireDue()
                failures = 0
                if expired > 0 { logger.info("orders expired", metadata: ["count": "\(expired)"]) }
                if expired == 200 { continue }
            } catch {
                failures += 1
                if failures == 1 || failures % 60 == 0 { logger.warning("expiry paused", metadata: ["error": "\(error)"]) }
                processor?.close()
                processor = nil
            }
            let deadline = Date().addingTimeInterval(1)
            while Date() < deadline && !isStopping() { Thread.sleep(forTimeInterval: 0.05) }
        }
        processor?.close()
    }
}
