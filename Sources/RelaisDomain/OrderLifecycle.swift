/// Where an order stands (docs/producers.md, "Queue `orders`").
public enum OrderStatus: String, Sendable, CaseIterable, Codable {
    case placed, confirmed, ready, collected, cancelled, expired
    /// On its way (`deliveries` queue): at the carrier or waiting at a relay point.
    case shipped
    /// Delivered at home or collected at a relay point.
    case delivered
    /// Sent back to the shop.
    case returned

    /// Whether the order can still change: its reservations hold stock.
    public var isOpen: Bool { self == .placed || self == .confirmed || self == .ready }

    /// How far along the normal path the order is; terminal states have no rank.
    var rank: Int? {
        switch self {
        case .placed: 0
        case .confirmed: 1
        case .ready: 2
        case .collected: 3
        case .cancelled, .expired, .shipped, .delivered, .returned: nil
        }
    }
}

/// Who cancelled an order.
public enum CancelledBy: String, Sendable, Codable {
    case shop, customer, platform
}

/// An event of an order's life, as the `orders` queue carries it (or, for expiry, the scheduler).
public enum OrderEvent: Sendable, Equatable {
    case placed
    case confirmed
    case ready
    case collected
    case cancelled(by: CancelledBy)
    case expired

    /// The status the event leads to.
    public var target: OrderStatus {
        switch self {
        case .placed: .placed
        case .confirmed: .confirmed
        case .ready: .ready
        case .collected: .collected
        case .cancelled: .cancelled
        case .expired: .expired
        }
    }
}

/// Who hears of a change.
public enum Recipient: String, Sendable, Codable {
    case shop, customer
}

/// What a transition requires, beyond recording the event in the order's history.
public enum OrderEffect: Sendable, Equatable {
    /// Reserve each item at the shop.
    case reserve
    /// Release the reservations.
    case release
    /// The reserved quantities leave stock on hand.
    case consume
    /// Plan the not-collected reminder and the expiry.
    case scheduleReminders
    /// Cancel the pending reminders.
    case cancelReminders
    /// Tell `recipient`, with the message `template`.
    case notify(Recipient, template: MessageTemplate)
}

/// What to do with an event, given the order's current status.
public enum OrderDecision: Sendable, Equatable {
    /// Apply: new status and the effects, in order.
    case apply(OrderStatus, [OrderEffect])
    /// Keep the event in the history and change nothing: a duplicate, a late event, or
    /// one that would move the order backwards or out of a final state.
    case ignore(reason: String)
    /// The order does not exist yet (its `order.placed` may be on its way): retry later.
    case retryLater(reason: String)
}

/// The order state machine: placed → confirmed → ready → collected; placed, confirmed
/// or ready → cancelled; ready → expired. It tolerates duplicates and events that
/// arrive out of order: a step forward may skip steps (a late `confirmed` after `ready`
/// is then ignored), a step backward or out of a final state changes nothing.
public enum OrderLifecycle {
    /// The decision for `event` on an order whose status is `current` (nil: unknown order).
    public static func decide(_ event: OrderEvent, current: OrderStatus?) -> OrderDecision {
        guard let current else {
            if event == .placed {
                return .apply(.placed, [.reserve, .notify(.shop, template: .orderPlacedShop),
                                        .notify(.customer, template: .orderPlacedCustomer)])
            }
            return .retryLater(reason: "the order is not placed yet")
        }
        guard current.isOpen else {
            return .ignore(reason: "the order is already \(current.rawValue)")
        }
        switch event {
        case .placed:
            return .ignore(reason: "the order is already \(current.rawValue)")
        case .confirmed, .ready, .collected:
            let from = current.rank!, to = event.target.rank!
            guard to > from else {
                return .ignore(reason: "\(event.target.rawValue) would move a \(current.rawValue) order backwards")
            }
            switch event {
            case .confirmed:
                return .apply(.confirmed, [.notify(.customer, template: .orderConfirmedCustomer)])
            case .ready:
                return .apply(.ready, [.scheduleReminders, .notify(.customer, template: .orderReadyCustomer)])
            default:
                return .apply(.collected, [.consume, .cancelReminders])
            }
        case .cancelled(let by):
            var effects: [OrderEffect] = [.release, .cancelReminders]
            switch by {
            case .customer: effects.append(.notify(.shop, template: .orderCancelledShop))
            case .shop: effects.append(.notify(.customer, template: .orderCancelledCustomer))
            case .platform:
                effects.append(.notify(.shop, template: .orderCancelledShop))
                effects.append(.notify(.customer, template: .orderCancelledCustomer))
            }
            return .apply(.cancelled, effects)
        case .expired:
            guard current == .ready else {
                return .ignore(reason: "only a ready order expires, this one is \(current.rawValue)")
            }
            return .apply(.expired, [.release, .cancelReminders, .notify(.shop, template: .orderExpiredShop),
                                     .notify(.customer, template: .orderExpiredCustomer)])
        }
    }
}
