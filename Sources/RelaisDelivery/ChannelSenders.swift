import CurlClient
import Foundation
import Logging
import Metrics
import RelaisDomain
import RelaisWorkers
import Synchronization

/// Spaces sends out to a rate: each reservation gets the next free slot, `interval`
/// after the one before (a generic cell rate algorithm without bursts), so no window of
/// time holds more sends than the rate allows.
struct Pace: Sendable {
    /// The time between two slots: one over the rate.
    let interval: Duration
    /// The next free slot; nil before the first reservation.
    private(set) var next: ContinuousClock.Instant?

    /// A pace of `perSecond` slots a second; nil for no limit (zero, negative or not a number).
    init?(perSecond: Double) {
        guard perSecond.isFinite, perSecond > 0 else { return nil }
        interval = .nanoseconds(Int64(max(1, (1e9 / perSecond).rounded(.up))))
    }

    /// Takes the next free slot, `now` at the earliest, and returns it.
    mutating func reserve(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let slot = max(next ?? now, now)
        next = slot + interval
        return slot
    }

    /// How many slots are free between `now` and `horizon`.
    func free(now: ContinuousClock.Instant, horizon: ContinuousClock.Instant) -> Int {
        let first = max(next ?? now, now)
        guard first <= horizon else { return 0 }
        return 1 + Int(((horizon - first) / interval).rounded(.down))
    }
}

/// A `Pace` shared by a channel's connections.
final class SharedPace: Sendable {
    private let pace: Mutex<Pace?>

    /// A pace of `perSecond` slots a second; reservations are all `now` without one.
    init(perSecond: Double?) {
        pace = Mutex(perSecond.flatMap { Pace(perSecond: $0) })
    }

    /// Takes the next free slot; nil when there is no limit.
    func reserve(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        pace.withLock { pace in pace?.reserve(now: now) }
    }
}

/// The messages a channel's worker has claimed and not yet handed to a connection, shop
/// by shop: each shop's in the order claimed, the shops in turn, each message with the
/// earliest time its shop's rate lets it go.
///
/// A connection takes the next shop's first message whose time has come, so a shop
/// claimed a moment ago does not wait behind the messages already queued for another,
/// and a shop that reached its rate waits without holding back the others.
final class SendQueue: @unchecked Sendable {
    struct Entry {
        let message: OutboxMessage
        let notBefore: ContinuousClock.Instant
        var leased: ContinuousClock.Instant
    }

    private let condition = NSCondition()
    /// Each shop's messages, oldest first.
    private var byShop: [String: [Entry]] = [:]
    /// The shops with messages, in turn; `turn` is the next one's place.
    private var shops: [String] = []
    private var turn = 0
    private var total = 0
    private var closed = false
    /// While the worker waits for room: the count below which to wake it.
    private var roomBelow: Int?

    /// How many messages wait.
    var count: Int { condition.withLock { total } }

    /// Adds messages, each after its shop's.
    func push(_ new: [Entry]) {
        guard !new.isEmpty else { return }
        condition.withLock {
            for entry in new {
                let shop = entry.message.facts.shopId
                if byShop[shop] == nil {
                    // A shop new to the queue takes its turn before the one whose turn it is.
                    shops.insert(shop, at: turn)
                }
                byShop[shop, default: []].append(entry)
            }
            total += new.count
            if new.count == 1 { condition.signal() } else { condition.broadcast() }
        }
    }

    /// The next shop's first message whose time has come, waiting for one; nil once the
    /// queue is closed (what it still holds is the worker's to put back).
    func take() -> OutboxMessage? {
        condition.lock()
        defer { condition.unlock() }
        while !closed {
            let now = ContinuousClock.now
            var earliest: ContinuousClock.Instant?
            for step in 0..<shops.count {
                let place = (turn + step) % shops.count
                let shop = shops[place]
                guard let first = byShop[shop]?.first else { continue }
                guard first.notBefore <= now else {
                    earliest = min(earliest ?? first.notBefore, first.notBefore)
                    continue
                }
                byShop[shop]!.removeFirst()
                total -= 1
                if byShop[shop]!.isEmpty {
                    byShop[shop] = nil
                    shops.remove(at: place)
                    turn = shops.isEmpty ? 0 : place % shops.count
                } else {
                    turn = (place + 1) % shops.count
                }
                if let roomBelow, total < roomBelow { condition.broadcast() }
                return first.message
            }
            let wake = earliest.map { min($0 - now, .milliseconds(250)) } ?? .milliseconds(250)
            _ = condition.wait(until: Date().addingTimeInterval(max(wake.seconds, 0.001)))
        }
        return nil
    }

    /// Waits until fewer than `count` messages wait, or `timeout` passes.
    func waitForRoom(below count: Int, timeout: Duration) {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer {
            roomBelow = nil
            condition.unlock()
        }
        roomBelow = count
        while total >= count && !closed {
            if !condition.wait(until: deadline) { return }
        }
    }

    /// The ids of messages leased before `before`, their lease now counted from `now`.
    func renewLeases(before: ContinuousClock.Instant, now: ContinuousClock.Instant) -> [Int64] {
        condition.withLock {
            var ids: [Int64] = []
            for shop in shops {
                for index in byShop[shop]!.indices where byShop[shop]![index].leased < before {
                    ids.append(byShop[shop]![index].message.id)
                    byShop[shop]![index].leased = now
                }
            }
            return ids
        }
    }

    /// Closes the queue: `take` returns nil from now on. Returns what was still waiting.
    func close() -> [OutboxMessage] {
        condition.withLock {
            closed = true
            condition.broadcast()
            let left = shops.flatMap { byShop[$0]!.map(\.message) }
            byShop = [:]
            shops = []
            total = 0
            return left
        }
    }
}

/// What the delivery workers of this instance hold, for `/status` and the metrics.
public final class DeliveryFigures: Sendable {
    private let held = Mutex<[Channel: Int]>([:])

    /// Creates empty figures.
    public init() {}

    /// Messages claimed by this instance and waiting for a connection or for their slot
    /// under a rate, per channel.
    public var waiting: [Channel: Int] { held.withLock { $0 } }

    func record(_ channel: Channel, waiting count: Int) {
        held.withLock { $0[channel] = count }
    }
}

extension DeliveryWorker {
    /// How far ahead a claim books shop slots: messages claimed wait at most about this
    /// long for their shop's turn under its rate.
    static let shopHorizon: Duration = .seconds(1)

    /// Sends one channel's messages over `connections` connections of their own, each
    /// reused from message to message: the worker's thread claims messages shop by shop
    /// in turn and queues them; each connection's thread takes the next one due, waits
    /// for its slot under the channel's rate, sends it and hands the outcome to the
    /// recorder. A slow server makes every connection wait, but only this channel's.
    func runWithConnections(until stop: StopSignal, connections: Int) {
        let queue = SendQueue()
        let recorder = OutcomeRecorder(outbox: connect, name: "record-\(channel.rawValue)", logger: logger)
        let channelPace = SharedPace(perSecond: settings.rates[channel])
        let waitedForRate = Counter(label: "relais_delivery_rate_waits_total", dimensions: [("channel", channel.rawValue)])
        let senders = (1...connections).map { n in
            WorkerThread.start(name: "send-\(channel.rawValue)-\(n)") { _ in
                self.sendLoop(queue: queue, pace: channelPace, recorder: recorder, waitedForRate: waitedForRate, stop: stop)
            }
        }
        var shopPaces: [String: Pace] = [:]
        let shopRate = settings.shopRates[channel].flatMap { Pace(perSecond: $0) }
        // Enough queued to keep every connection busy, yet little: a shop's message that
        // becomes due joins at the next claim, after what is queued (a few sends per
        // connection), and under a rate nothing waits near its lease.
        let target = settings.rates[channel].map { max(1, min(settings.batchSize, Int($0.rounded(.up)))) }
            ?? min(settings.batchSize, connections * 4)
        var outbox: (any OutboxPort)?
        var backoff = Backoff()
        while !stop.isSet {
            do {
                try reopen(&outbox)
                let now = ContinuousClock.now
                let stale = queue.renewLeases(before: now - lease / 2, now: now)
                if !stale.isEmpty { try outbox!.extend(stale, lease: lease) }
                figures?.record(channel, waiting: queue.count)
                guard queue.count < target else {
                    queue.waitForRoom(below: target, timeout: .milliseconds(100))
                    continue
                }
                let horizon = now + Self.shopHorizon
                let messages = try outbox!.claim(channel: channel, limit: target, lease: lease) { shop in
                    guard let shopRate else { return Int.max }
                    return (shopPaces[shop] ?? shopRate).free(now: now, horizon: horizon)
                }
                backoff.reset()
                guard !messages.isEmpty else {
                    stop.sleep(settings.pollInterval)
                    continue
                }
                var entries: [SendQueue.Entry] = []
                for message in messages {
                    var notBefore = now
                    if let shopRate {
                        var pace = shopPaces[message.facts.shopId] ?? shopRate
                        notBefore = pace.reserve(now: now)
                        shopPaces[message.facts.shopId] = pace
                    }
                    entries.append(SendQueue.Entry(message: message, notBefore: notBefore, leased: now))
                }
                queue.push(entries)
                if shopPaces.count > 10_000 { shopPaces = shopPaces.filter { ($0.value.next ?? now) > now } }
            } catch {
                pause(after: error, dropping: &outbox, backoff: &backoff, stop: stop)
            }
        }
        // Stopping: the connections end the send in hand; what no connection took goes
        // back to the outbox due at once, its attempt not counted.
        let unsent = queue.close()
        for sender in senders { _ = sender.waitUntilFinished(timeout: settings.timeout + .seconds(1)) }
        let back = unsent.map { DeliveryRecord(id: $0.id, attempt: $0.attempt, result: .deferred(until: Timestamp(Date()), reason: "relais stopped before sending it")) }
        if !back.isEmpty, let open = outbox, open.isOpen { try? record(open, back) }
        figures?.record(channel, waiting: 0)
        recorder.finish(timeout: .seconds(5))
        outbox?.close()
    }

    /// One connection's loop: the next message due, its slot under the channel's rate,
    /// the send, the outcome to the recorder.
    private func sendLoop(queue: SendQueue, pace: SharedPace, recorder: OutcomeRecorder, waitedForRate: Counter,
                          stop: StopSignal) {
        var session: CurlSession?
        while let message = queue.take() {
            if let slot = pace.reserve(now: .now), slot > .now {
                waitedForRate.increment()
                if stop.sleep(until: slot) {
                    recorder.submit(DeliveryRecord(id: message.id, attempt: message.attempt,
                                                   result: .deferred(until: Timestamp(Date()), reason: "relais stopped before sending it")))
                    continue
                }
            }
            if session == nil { session = try? CurlSession() }
            let started = ContinuousClock.now
            let result = deliver(message, session)
            recorder.submit(DeliveryRecord(id: message.id, attempt: message.attempt, result: result))
            log(message, result, ContinuousClock.now - started)
        }
        session?.close()
    }
}
