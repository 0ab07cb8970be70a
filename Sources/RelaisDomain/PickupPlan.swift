/// A job of the `pickups` queue: a click-and-collect slot booked or cancelled.
public enum PickupJob: Sendable, Equatable {
    /// `pickup.booked`: replaces an earlier booking of the order.
    case booked(orderId: String, slotStart: Timestamp, slotEnd: Timestamp)
    /// `pickup.cancelled`: the order's booking is off.
    case cancelled(orderId: String)

    /// The order the booking is for.
    public var orderId: String {
        switch self {
        case .booked(let id, _, _), .cancelled(let id): id
        }
    }
}

/// The writes that apply a batch of `pickups` jobs, computed without touching the database.
public struct PickupPlan: Sendable, Equatable {
    /// One outcome per job, in order.
    public var outcomes: [OrderJobOutcome] = []
    /// Every order's slot as it stands after the batch (nil: no booking).
    public var slots: [SlotChange] = []
    /// Every booking event, applied or not, for the order's history.
    public var history: [OrderPlan.HistoryEntry] = []
    /// Reminders cancelled and planned.
    public var reminders = ReminderChanges()

    /// An order's booked slot after the batch.
    public struct SlotChange: Sendable, Equatable {
        public var orderId: String
        public var start: Timestamp?
        public var end: Timestamp?
    }

    /// Plans `jobs` (id, type and job, in arrival order) against the `stored` orders
    /// they name, at `now` (reminders already due at `now` are not planned).
    ///
    /// A booking for an order not placed yet is retried, like an order event; one for an
    /// order that is over (collected, cancelled, expired) is kept in the history and
    /// changes nothing. A new booking replaces the slot and the reminders of the old one.
    public static func make(_ jobs: [(id: String, type: String, job: PickupJob)], stored: [ExactText: StoredOrder],
                            now: Timestamp, rules: ReminderRules) -> PickupPlan {
        var plan = PickupPlan()
        var orders = stored
        var changed: [ExactText: Int] = [:]
        let bookingKinds: [ReminderKind] = [.evening, .soon]
        for (id, type, job) in jobs {
            let orderId = job.orderId
            let key = ExactText(orderId)
            guard let current = orders[key] else {
                plan.outcomes.append(.retry(reason: "the order is not placed yet"))
                continue
            }
            guard current.status.isOpen else {
                let note = "the order is already \(current.status.rawValue)"
                plan.history.append(.init(orderId: orderId, jobId: id, type: type, at: now, applied: false, note: note))
                plan.outcomes.append(.ignored(reason: note))
                continue
            }
            plan.reminders.cancel(orderId, bookingKinds)
            switch job {
            case .booked(_, let start, let end):
                orders[key]!.slotStart = start
                orders[key]!.slotEnd = end
                plan.reminders.plan(orderId, rules.forBooking(slotStart: start, slotEnd: end, now: now,
                                                              timeZone: current.order.shop.timeZone))
            case .cancelled:
                orders[key]!.slotStart = nil
                orders[key]!.slotEnd = nil
            }
            let change = SlotChange(orderId: orderId, start: orders[key]!.slotStart, end: orders[key]!.slotEnd)
            if let index = changed[key] { plan.slots[index] = change } else {
                changed[key] = plan.slots.count
                plan.slots.append(change)
            }
            plan.history.append(.init(orderId: orderId, jobId: id, type: type, at: now, applied: true, note: nil))
            plan.outcomes.append(.applied)
        }
        return plan
    }
}
