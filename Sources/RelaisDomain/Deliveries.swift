/// How an order travels to its customer.
public enum DeliveryMethod: String, Sendable, Codable, CaseIterable {
    /// To the customer's door.
    case home
    /// To a relay point, where the customer collects it.
    case relay
}

/// Where a delivered order stands (`relais.order_status.delivery_state`).
public enum DeliveryState: String, Sendable, Codable, CaseIterable {
    /// Handed to the carrier.
    case shipped
    /// Waiting at a relay point.
    case atRelay = "at_relay"
    /// Delivered at home.
    case delivered
    /// Collected at the relay point.
    case collected
    /// Back at the shop.
    case returned

    /// How far along the delivery is: an event never moves it back.
    var rank: Int {
        switch self {
        case .shipped: 1
        case .atRelay: 2
        case .delivered, .collected, .returned: 3
        }
    }

    /// Whether nothing changes it any more.
    public var isFinal: Bool { rank == 3 }

    /// The order's status in this state.
    public var orderStatus: OrderStatus {
        switch self {
        case .shipped, .atRelay: .shipped
        case .delivered, .collected: .delivered
        case .returned: .returned
        }
    }
}

/// A relay point holding a parcel.
public struct RelayPoint: Sendable, Equatable, Codable {
    public var name: String
    public var address: String
    /// Free text, as the carrier gives it.
    public var openingHours: String?

    public init(name: String, address: String, openingHours: String? = nil) {
        self.name = name
        self.address = address
        self.openingHours = openingHours
    }

    enum CodingKeys: String, CodingKey { case name, address, openingHours = "opening_hours" }
}

/// A job of the `deliveries` queue: one step of an order's delivery.
public enum DeliveryJob: Sendable, Equatable {
    /// `delivery.shipped`.
    case shipped(orderId: String, at: Timestamp, method: DeliveryMethod, carrier: String, trackingURL: String?,
                 trackingNumber: String?)
    /// `delivery.at_relay`: the parcel waits at `relay` until `holdUntil`.
    case atRelay(orderId: String, at: Timestamp, relay: RelayPoint, pickupCode: String, holdUntil: Timestamp)
    /// `delivery.delivered`: handed over at home.
    case delivered(orderId: String, at: Timestamp)
    /// `delivery.collected`: collected at the relay point.
    case collected(orderId: String, at: Timestamp)
    /// `delivery.returned`: back at the shop (the hold expired, or the parcel was refused).
    case returned(orderId: String, at: Timestamp, reason: String?)

    /// The order delivered.
    public var orderId: String {
        switch self {
        case .shipped(let id, _, _, _, _, _), .atRelay(let id, _, _, _, _), .delivered(let id, _), .collected(let id, _),
             .returned(let id, _, _): id
        }
    }

    /// When it happened.
    public var at: Timestamp {
        switch self {
        case .shipped(_, let at, _, _, _, _), .atRelay(_, let at, _, _, _), .delivered(_, let at), .collected(_, let at),
             .returned(_, let at, _): at
        }
    }

    /// The state it leads to.
    public var target: DeliveryState {
        switch self {
        case .shipped: .shipped
        case .atRelay: .atRelay
        case .delivered: .delivered
        case .collected: .collected
        case .returned: .returned
        }
    }
}

/// The limits of the `deliveries` job types (docs/producers.md, "Queue `deliveries`").
public enum DeliveryRules {
    /// Longest carrier name and tracking number.
    public static let maxCarrierLength = 100
    /// Longest relay point address and opening hours.
    public static let maxAddressLength = 500
    /// Longest pickup code.
    public static let maxPickupCodeLength = 32
}

/// The writes that apply a batch of `deliveries` jobs, computed without touching the database.
///
/// The order's status, history, stock and messages are written as an `OrderPlan`'s are;
/// `deliveries` holds each order's delivery as it stands after the batch.
///
/// The first step applied ships the order, whichever it is (a `delivery.at_relay` that
/// overtook its `delivery.shipped`): the reservation leaves stock on hand as a collection
/// does, and the pickup reminders are cancelled. A step that would move the delivery back
/// (a late `shipped` after `at_relay`) or out of a final state is kept in the history and
/// changes nothing. A step for an order not placed yet is retried; one for an order that
/// was collected at the shop, cancelled or expired changes nothing.
public struct DeliveryPlan: Sendable, Equatable {
    /// The order writes: outcomes, statuses, history, reservations released, stock taken
    /// and given back, messages, reminders.
    public var order = OrderPlan()
    /// Each order's delivery after the batch.
    public var deliveries: [(orderId: String, delivery: DeliveryFacts)] {
        changed.map { ($0, stored[ExactText($0)]!.delivery!) }
    }

    private var stored: [ExactText: StoredOrder] = [:]
    private var changed: [String] = []
    private var changedKeys: Set<ExactText> = []

    public static func == (a: DeliveryPlan, b: DeliveryPlan) -> Bool {
        a.order == b.order && a.changed == b.changed && a.stored == b.stored
    }

    /// Plans `jobs` (id, type and job, in arrival order) against the `stored` orders they
    /// name, at `now` (the relay point's reminder is planned from it).
    public static func make(_ jobs: [(id: String, type: String, job: DeliveryJob)], stored: [ExactText: StoredOrder],
                            now: Timestamp, channels: Set<Channel>, rules: ReminderRules) -> DeliveryPlan {
        var plan = DeliveryPlan()
        plan.stored = stored
        var statusAt: [ExactText: Int] = [:]
        for (id, type, job) in jobs {
            let key = ExactText(job.orderId)
            guard var current = plan.stored[key] else {
                plan.order.outcomes.append(.retry(reason: "the order is not placed yet"))
                continue
            }
            if let reason = reasonToIgnore(job, current) {
                plan.order.history.append(.init(orderId: job.orderId, jobId: id, type: type, at: job.at, applied: false, note: reason))
                plan.order.outcomes.append(.ignored(reason: reason))
                continue
            }
            let order = current.order
            let shipsNow = current.delivery == nil
            if shipsNow {
                // Shipping: the reservation leaves stock on hand, as a collection does; a
                // return that is the first step heard of left and came back, and only
                // the reservation goes.
                plan.order.take(order, jobId: "deliveries:\(id)", at: job.at, sign: -1, onHand: job.target != .returned)
                plan.order.reminders.cancel(order.orderId, [.uncollected, .evening, .soon])
            }
            var delivery = current.delivery ?? DeliveryFacts(state: job.target)
            delivery.state = job.target
            var reason: String?
            switch job {
            case .shipped(_, _, let method, let carrier, let url, let number):
                delivery.method = method
                delivery.carrier = carrier
                delivery.trackingURL = url
                delivery.trackingNumber = number
            case .atRelay(_, _, let relay, let code, let holdUntil):
                delivery.method = .relay
                delivery.relay = relay
                delivery.pickupCode = code
                delivery.holdUntil = holdUntil
                if let due = rules.beforeDeadline(holdUntil, by: rules.holdReminderBefore, now: now, timeZone: order.shop.timeZone) {
                    plan.order.reminders.plan(order.orderId, [PlannedReminder(kind: .relayHold, due: due)])
                }
            case .delivered, .collected:
                plan.order.reminders.cancel(order.orderId, [.relayHold])
            case .returned(_, _, let why):
                reason = why
                plan.order.reminders.cancel(order.orderId, [.relayHold])
                // The parcel is back on the shop's shelf: its quantities count again.
                if !shipsNow { plan.order.take(order, jobId: "deliveries:\(id)", at: job.at, sign: 1, reserved: false) }
            }
            current.delivery = delivery
            current.status = delivery.state.orderStatus
            plan.stored[key] = current
            if plan.changedKeys.insert(key).inserted { plan.changed.append(job.orderId) }

            let change = OrderPlan.StatusChange(orderId: order.orderId, status: current.status, at: job.at,
                                                pickupDeadline: order.pickupDeadline)
            if let index = statusAt[key] { plan.order.changes[index] = change } else {
                statusAt[key] = plan.order.changes.count
                plan.order.changes.append(change)
            }
            plan.order.history.append(.init(orderId: order.orderId, jobId: id, type: type, at: job.at, applied: true, note: nil))
            var facts = MessageFacts(order: order, at: job.at)
            facts.delivery = delivery
            facts.delivery?.reason = reason
            for (recipient, template) in messages(of: job) {
                for (channel, destination) in MessageRouting.deliveries(to: recipient, of: order, template: template, channels: channels) {
                    plan.order.messages.append(.init(orderId: order.orderId, recipient: recipient, channel: channel,
                                                     destination: destination, template: template, facts: facts))
                }
            }
            plan.order.outcomes.append(.applied)
        }
        return plan
    }

    /// Why `job` changes nothing on `order`, or nil to apply it.
    static func reasonToIgnore(_ job: DeliveryJob, _ order: StoredOrder) -> String? {
        guard let delivery = order.delivery else {
            return order.status.isOpen ? nil : "the order is already \(order.status.rawValue)"
        }
        if delivery.state.isFinal { return "the delivery is already \(delivery.state.rawValue)" }
        guard job.target.rank > delivery.state.rank else {
            return "\(job.target.rawValue) would move a delivery \(delivery.state.rawValue) backwards"
        }
        return nil
    }

    /// Who hears of `job`, with which message.
    static func messages(of job: DeliveryJob) -> [(Recipient, MessageTemplate)] {
        switch job {
        case .shipped: [(.customer, .deliveryShippedCustomer)]
        case .atRelay: [(.customer, .deliveryAtRelayCustomer)]
        case .delivered, .collected: []
        case .returned: [(.shop, .deliveryReturnedShop), (.customer, .deliveryReturnedCustomer)]
        }
    }
}

extension OrderPlan {
    /// `order`'s quantities leave (`sign` −1) or come back to (+1) the shop's stock on hand
    /// at `at`, as adjustments of job `jobId` (none when `onHand` is false); leaving also
    /// releases them from `reserved`.
    mutating func take(_ order: PlacedOrder, jobId: String, at: Timestamp, sign: Int64, reserved: Bool = true, onHand: Bool = true) {
        var perSku: [ExactText: Int64] = [:]
        for (line, item) in order.items.enumerated() {
            if reserved {
                reservations.append(Reservation(orderId: order.orderId, line: line, shopId: order.shop.id, sku: item.sku,
                                                delta: -item.quantity))
            }
            // Lines are at most 500 of at most a million units each: the sum cannot overflow.
            perSku[ExactText(item.sku), default: 0] += item.quantity
        }
        for (sku, quantity) in perSku.sorted(by: { $0.key < $1.key }) where onHand {
            consumption.append(StockChange(shopId: order.shop.id, sku: sku.text, delta: sign * quantity, at: at, jobId: jobId))
        }
    }
}
