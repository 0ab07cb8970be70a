import Foundation
import Logging
import RelaisDomain
import RelaisMessages
import RelaisTestSupport
import RelaisWorkers
import Synchronization
import Testing
@testable import RelaisDelivery

/// The delivery worker over an outbox written for the test, without PostgreSQL: delivery
/// needs only the `OutboxPort`, and it closes every connection it opens.
@Suite struct OutboxPortTests {
    @Test func theWorkerSendsAndRecordsThroughAnyOutboxPort() throws {
        let outbox = MemoryOutbox(messages: [MemoryOutbox.message(id: 7)])
        // An hour between two looks at an idle outbox: only the stop signal can end the pause.
        let thread = try Self.start(outbox, pollInterval: .seconds(3600))
        let recorded = eventually(timeout: .seconds(10), every: .milliseconds(20)) { !outbox.records.isEmpty }
        #expect(thread.stopAndWait(timeout: .seconds(10)), "the idle worker did not wake from its pause when stopped")
        try #require(recorded, "nothing was recorded")
        #expect(outbox.records == [DeliveryRecord(id: 7, attempt: 1, result: .sent)])
        #expect(outbox.connections.opened == 1 && outbox.connections.closed == 1, "\(outbox.connections)")
    }

    @Test func aConnectorThatFailsIsCalledAgainAfterABackoff() throws {
        let outbox = MemoryOutbox(messages: [MemoryOutbox.message(id: 8)], failingConnects: 3)
        let thread = try Self.start(outbox, pollInterval: .milliseconds(50))
        defer { thread.stopAndWait(timeout: .seconds(10)) }
        #expect(eventually(timeout: .seconds(10), every: .milliseconds(20)) { !outbox.records.isEmpty },
                "still not recorded after \(outbox.connections.attempts) connection attempts")
        #expect(outbox.connections.attempts == 4)
        #expect(outbox.records.map(\.id) == [8])
    }

    @Test func aLostConnectionIsClosedAndReplaced() throws {
        let outbox = MemoryOutbox(messages: [MemoryOutbox.message(id: 9)], claimsBeforeLoss: 1)
        let thread = try Self.start(outbox, pollInterval: .milliseconds(50))
        #expect(eventually(timeout: .seconds(10), every: .milliseconds(20)) { outbox.connections.opened >= 2 })
        #expect(thread.stopAndWait(timeout: .seconds(10)))
        let connections = outbox.connections
        #expect(connections.opened == connections.closed, "a connection was dropped without being closed: \(connections)")
        #expect(outbox.records.map(\.id) == [9])
    }

    static func start(_ outbox: MemoryOutbox, pollInterval: Duration) throws -> WorkerThread {
        var settings = DeliverySettings()
        settings.pollInterval = pollInterval
        let renderer = MessageRenderer(templates: try TemplateSet(shipped: DeliveryWorkerTests.templates, overrides: nil))
        // The log channel writes each message's text as a log line: not wanted in the test's output.
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let worker = DeliveryWorker(channel: .log, outbox: { try outbox.connect() }, settings: settings, renderer: renderer,
                                    logger: logger)
        return WorkerThread.start(name: "delivery-test") { stop in worker.run(until: stop) }
    }
}

/// An outbox in memory: hands out its messages once each and keeps the records.
final class MemoryOutbox: Sendable {
    /// Connections asked for, made, and closed.
    struct Connections: Sendable, CustomStringConvertible {
        var attempts = 0
        var opened = 0
        var closed = 0
        var description: String { "\(attempts) attempts, \(opened) opened, \(closed) closed" }
    }

    private let state: Mutex<(due: [OutboxMessage], records: [DeliveryRecord], connections: Connections, failingConnects: Int)>
    /// Claims a connection answers before it is lost (nil: never lost).
    private let claimsBeforeLoss: Int?

    init(messages: [OutboxMessage], failingConnects: Int = 0, claimsBeforeLoss: Int? = nil) {
        state = Mutex((messages, [], Connections(), failingConnects))
        self.claimsBeforeLoss = claimsBeforeLoss
    }

    var records: [DeliveryRecord] { state.withLock { $0.records } }
    var connections: Connections { state.withLock { $0.connections } }

    func connect() throws -> any OutboxPort {
        try state.withLock { state in
            state.connections.attempts += 1
            if state.failingConnects > 0 {
                state.failingConnects -= 1
                throw MemoryOutboxError.unreachable
            }
            state.connections.opened += 1
        }
        return Connection(outbox: self, claimsLeft: claimsBeforeLoss)
    }

    /// A message for the log channel, due now, at its first attempt.
    static func message(id: Int64) -> OutboxMessage {
        OutboxMessage(id: id, orderId: "o-1", recipient: .customer, channel: .log, destination: nil,
                      template: "order-ready-customer", facts: DeliveryWorkerTests.facts(), attempt: 1)
    }

    enum MemoryOutboxError: Error { case unreachable, lost }

    final class Connection: OutboxPort {
        let outbox: MemoryOutbox
        var claimsLeft: Int?
        var lost = false
        var closed = false

        init(outbox: MemoryOutbox, claimsLeft: Int?) {
            self.outbox = outbox
            self.claimsLeft = claimsLeft
        }

        var isOpen: Bool { !lost && !closed }

        func claim(channel: Channel, limit: Int, lease: Duration, quota: (String) -> Int) throws -> [OutboxMessage] {
            guard isOpen else { throw MemoryOutboxError.lost }
            if let left = claimsLeft {
                if left == 0 {
                    lost = true
                    throw MemoryOutboxError.lost
                }
                claimsLeft = left - 1
            }
            return outbox.state.withLock { state in
                var perShop: [String: Int] = [:]
                let taken = Array(state.due.filter { message in
                    guard message.channel == channel else { return false }
                    perShop[message.facts.shopId, default: 0] += 1
                    return perShop[message.facts.shopId]! <= quota(message.facts.shopId)
                }.prefix(limit))
                state.due.removeAll { message in taken.contains { $0.id == message.id } }
                return taken
            }
        }

        func extend(_ ids: [Int64], lease: Duration) throws {
            guard isOpen else { throw MemoryOutboxError.lost }
        }

        func record(_ records: [DeliveryRecord]) throws -> Set<Int64> {
            guard isOpen else { throw MemoryOutboxError.lost }
            outbox.state.withLock { $0.records += records }
            return Set(records.map(\.id))
        }

        func close() {
            if !closed { outbox.state.withLock { $0.connections.closed += 1 } }
            closed = true
        }
    }
}
