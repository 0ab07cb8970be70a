/// An order as the store holds it.
public struct StoredOrder: Sendable, Equatable {
    /// What `order.placed` said, with a later `pickup_deadline` from `order.ready`.
    public var order: PlacedOrder
    /// Where the order stands.
    public var status: OrderStatus
    /// The booked pickup slot, if any.
    public var slotStart: Timestamp?
    public var slotEnd: Timestamp?
    /// Its delivery, once shipped.
    public var delivery: DeliveryFacts?

    public init(order: PlacedOrder, status: OrderStatus, slotStart: Timestamp? = nil, slotEnd: Timestamp? = nil,
                delivery: DeliveryFacts? = nil) {
        self.order = order
        self.status = status
        self.slotStart = slotStart
        self.slotEnd = slotEnd
        self.delivery = delivery
    }
}

/// Reminders to plan and to cancel, in the order the events asked.
public struct ReminderChanges: Sendable, Equatable {
    /// Pending reminders of these kinds are cancelled (before `planned` are written).
    public var cancellations: [Cancellation] = []
    /// Reminders to write, each for an order.
    public var planned: [Planned] = []

    public struct Cancellation: Sendable, Equatable {
        public var orderId: String
        public var kinds: [ReminderKind]
    }

    public struct Planned: Sendable, Equatable {
        public var orderId: String
        public var reminder: PlannedReminder
    }

    public init() {}

    /// Cancels the order's reminders of `kinds`, stored or planned earlier in the batch.
    public mutating func cancel(_ orderId: String, _ kinds: [ReminderKind]) {
        planned.removeAll { $0.orderId == orderId && kinds.contains($0.reminder.kind) }
        cancellations.append(Cancellation(orderId: orderId, kinds: kinds))
    }

    /// Plans `reminders` for the order.
    public mutating func plan(_ orderId: String, _ reminders: [PlannedReminder]) {
        planned += reminders.map { Planned(orderId: orderId, reminder: $0) }
    }
}

/// What became of one `orders` job.
public enum OrderJobOutcome: Sendable, Equatable {
    /// The event changed the order.
    case applied
    /// The event is in the order's history and changed nothing (late, backwards or after the end).
    case ignored(reason: String)
    /// The order does not exist yet: try the job again later.
    case retry(reason: String)
}

/// The writes that apply a batch of `orders` jobs, computed without touching the database.
///
/// The store reads the orders the batch names, asks for a plan, and runs a few set-based
/// statements for it: the batch costs the same handful of round trips whatever its size.
public struct OrderPlan: Sendable, Equatable {
    /// One outcome per job, in order.
    public var outcomes: [OrderJobOutcome] = []
    /// Orders placed in this batch, to insert.
    public var placed: [PlacedOrder] = []
    /// The status of every order the batch changed, as it stands after the batch.
    public var changes: [StatusChange] = []
    /// Every event the batch kept in an order's history, applied or not.
    public var history: [HistoryEntry] = []
    /// Changes of reserved quantities, in the order the events happened.
    public var reservations: [Reservation] = []
    /// Quantities that left the shop's stock on hand when an order was collected.
    public var consumption: [StockChange] = []
    /// The messages the events cause, one per recipient and channel.
    public var messages: [PlannedMessage] = []
    /// Reminders planned by `order.ready`, cancelled when the order is collected, cancelled or expired.
    public var reminders = ReminderChanges()

    /// An order's new status.
    public struct StatusChange: Sendable, Equatable {
        public var orderId: String
        public var status: OrderStatus
        public var at: Timestamp
        public var pickupDeadline: Timestamp?

        public init(orderId: String, status: OrderStatus, at: Timestamp, pickupDeadline: Timestamp?) {
            self.orderId = orderId
            self.status = status
            self.at = at
            self.pickupDeadline = pickupDeadline
        }
    }

    /// One event in an order's history.
    public struct HistoryEntry: Sendable, Equatable {
        public var orderId: String
        public var jobId: String
        public var type: String
        public var at: Timestamp
        public var applied: Bool
        /// Why it changed nothing, when it did not.
        public var note: String?
    }

    /// A change of one line's reservation: positive reserves, negative releases.
    public struct Reservation: Sendable, Equatable {
        public var orderId: String
        /// The line's index in the order's items.
        public var line: Int
        public var shopId: String
        public var sku: String
        public var delta: Int64
    }

    /// A message to write to the outbox.
    public struct PlannedMessage: Sendable, Equatable {
        public var orderId: String
        public var recipient: Recipient
        public var channel: Channel
        /// The e-mail address, phone number or webhook URL; nil for the log.
        public var destination: String?
        /// Which message.
        public var messageTemplate: MessageTemplate
        public var facts: MessageFacts

        /// The template's name, as the outbox stores it.
        public var template: String { messageTemplate.rawValue }

        public init(orderId: String, recipient: Recipient, channel: Channel, destination: String?, template: MessageTemplate,
                    facts: MessageFacts) {
            self.orderId = orderId
            self.recipient = recipient
            self.channel = channel
            self.destination = destination
            self.messageTemplate = template
            self.facts = facts
        }
    }

    /// Plans `jobs` (id, type and job, in arrival order) against the `stored` orders they name.
    ///
    /// - Parameter channels: the channels that are configured; a message for another
    ///   channel goes to the log instead.
    public static func make(_ jobs: [(id: String, type: String, job: OrderJob)], stored: [ExactText: StoredOrder],
                            channels: Set<Channel>, rules: ReminderRules = ReminderRules()) -> OrderPlan {
        var plan = OrderPlan()
        var orders = stored
        var changed: [ExactText: Int] = [:]
        for (id, type, job) in jobs {
            let orderId = job.orderId
            let key = ExactText(orderId)
            switch OrderLifecycle.decide(job.event, current: orders[key]?.status) {
            case .retryLater(let reason):
                plan.outcomes.append(.retry(reason: reason))
            case .ignore(let reason):
                plan.history.append(HistoryEntry(orderId: orderId, jobId: id, type: type, at: job.at, applied: false, note: reason))
                plan.outcomes.append(.ignored(reason: reason))
            case .apply(let status, let effects):
                if case .placed(let order) = job {
                    orders[key] = StoredOrder(order: order, status: status)
                    plan.placed.append(order)
                } else {
                    orders[key]!.status = status
                    if case .ready(_, _, let deadline?) = job { orders[key]!.order.pickupDeadline = deadline }
                }
                let stored = orders[key]!
                let change = StatusChange(orderId: orderId, status: status, at: job.at, pickupDeadline: stored.order.pickupDeadline)
                if let index = changed[key] { plan.changes[index] = change } else {
                    changed[key] = plan.changes.count
                    plan.changes.append(change)
                }
                plan.history.append(HistoryEntry(orderId: orderId, jobId: id, type: type, at: job.at, applied: true, note: nil))
                for effect in effects {
                    plan.apply(effect, stored: stored, job: job, jobId: id, channels: channels, rules: rules)
                }
                plan.outcomes.append(.applied)
            }
        }
        return plan
    }

    private mutating func apply(_ effect: OrderEffect, stored: StoredOrder, job: OrderJob, jobId: String, channels: Set<Channel>,
                                rules: ReminderRules) {
        let order = stored.order
        switch effect {
        case .reserve, .release:
            let sign: Int64 = effect == .reserve ? 1 : -1
            for (line, item) in order.items.enumerated() {
                reservations.append(Reservation(orderId: order.orderId, line: line, shopId: order.shop.id, sku: item.sku,
                                                delta: sign * item.quantity))
            }
        case .consume:
            take(order, jobId: "orders:\(jobId)", at: job.at, sign: -1)
        case .scheduleReminders:
            reminders.plan(order.orderId, rules.forReady(readyAt: job.at, pickupDeadline: order.pickupDeadline,
                                                         timeZone: order.shop.timeZone))
        case .cancelReminders:
            // An order's own kinds only: a quote or appointment may share its id.
            reminders.cancel(order.orderId, ReminderKind.allCases.filter { $0.subject == .order })
        case .notify(let recipient, let template):
            var facts = MessageFacts(order: order, job: job)
            facts.slotStart = stored.slotStart
            facts.slotEnd = stored.slotEnd
            for (channel, destination) in MessageRouting.deliveries(to: recipient, of: order, template: template, channels: channels) {
                messages.append(PlannedMessage(orderId: order.orderId, recipient: recipient, channel: channel,
                                               destination: destination, template: template, facts: facts))
            }
        }
    }

    /// Marks the lines that were short of stock in the messages of the orders placed in
    /// this batch.
    ///
    /// - Parameter stock: per shop and SKU the batch reserved, stock on hand and the
    ///   reserved quantity after the batch.
    public mutating func markShortages(stock: [ShopSku: (onHand: Int64, reserved: Int64)]) {
        var reservedBefore: [ShopSku: Int64] = [:]
        for (key, value) in stock { reservedBefore[key] = value.reserved }
        for change in reservations { reservedBefore[ShopSku(change.shopId, change.sku), default: 0] -= change.delta }
        var short: Set<LineKey> = []
        var running = reservedBefore
        for change in reservations {
            let key = ShopSku(change.shopId, change.sku)
            let reserved = running[key, default: 0]
            if change.delta > 0, let onHand = stock[key]?.onHand, onHand - reserved < change.delta {
                short.insert(LineKey(order: ExactText(change.orderId), line: change.line))
            }
            running[key] = reserved + change.delta
        }
        guard !short.isEmpty else { return }
        for index in messages.indices {
            let order = ExactText(messages[index].orderId)
            for line in messages[index].facts.items.indices where short.contains(LineKey(order: order, line: line)) {
                messages[index].facts.items[line].short = true
            }
        }
    }

    private struct LineKey: Hashable {
        let order: ExactText
        let line: Int
    }
}

/// A shop and SKU, compared by exact bytes as PostgreSQL compares them.
public struct ShopSku: Hashable, Sendable {
    public let shop: ExactText
    public let sku: ExactText

    public init(_ shop: String, _ sku: String) {
        self.shop = ExactText(shop)
        self.sku = ExactText(sku)
    }
}

extension MessageFacts {
    /// The facts of a message about `order` at `at`.
    public init(order: PlacedOrder, at: Timestamp) {
        self.init(orderId: order.orderId, shopId: order.shop.id, shopName: order.shop.name, timeZone: order.shop.timeZone,
                  customerName: order.customer.name, language: order.customer.language,
                  items: order.items.map { Item(sku: $0.sku, name: $0.name, quantity: $0.quantity, unitPriceCents: $0.unitPriceCents) },
                  totalCents: order.totalCents, currency: order.currency, at: at, pickupDeadline: order.pickupDeadline,
                  shopEmail: order.shop.email)
    }

    /// The facts of a message about `order`, caused by `job`.
    public init(order: PlacedOrder, job: OrderJob) {
        self.init(order: order, at: job.at)
        if case .cancelled(_, _, let by, let reason) = job {
            cancelledBy = by
            cancelReason = reason
        }
    }
}

/// Which channels carry a message to a recipient.
public enum MessageRouting {
    /// Messages that also go by SMS to a customer who gave an e-mail address: the ones
    /// that ask the customer to act or tell them the order is off.
    public static let customerSMSTemplates: Set<MessageTemplate> = [
        .orderReadyCustomer, .orderCancelledCustomer, .orderExpiredCustomer,
        .pickupReminderCustomer, .pickupEveningCustomer, .pickupSoonCustomer,
        .deliveryAtRelayCustomer, .deliveryHoldReminderCustomer, .deliveryReturnedCustomer,
        .quoteReminderCustomer,
        .appointmentEveningCustomer, .appointmentSoonCustomer, .appointmentRescheduledCustomer, .appointmentCancelledCustomer,
    ]

    /// The channels and destinations of one message.
    ///
    /// A customer gets e-mail when they gave an address, and SMS when they gave a phone
    /// and either no e-mail or the message is in `customerSMSTemplates`. A shop gets
    /// e-mail, and its webhook when it has one, and SMS only when it has neither. A
    /// channel that is not configured becomes the log (once per message), and so does a
    /// recipient with no address at all.
    public static func deliveries(to recipient: Recipient, of order: PlacedOrder, template: MessageTemplate,
                                  channels: Set<Channel>) -> [(Channel, String?)] {
        deliveries(to: recipient, shop: order.shop, customer: order.customer, template: template, channels: channels)
    }

    /// The channels and destinations of one message to `shop` or `customer` (as above):
    /// appointments and quotes reach their shop and customer as orders do.
    public static func deliveries(to recipient: Recipient, shop: PlacedOrder.Shop, customer: PlacedOrder.Customer,
                                  template: MessageTemplate, channels: Set<Channel>) -> [(Channel, String?)] {
        var wanted: [(Channel, String)] = []
        switch recipient {
        case .customer:
            if let email = customer.email { wanted.append((.email, email)) }
            if let phone = customer.phone, customer.email == nil || customerSMSTemplates.contains(template) {
                wanted.append((.sms, phone))
            }
        case .shop:
            if let email = shop.email { wanted.append((.email, email)) }
            if let url = shop.webhookURL { wanted.append((.webhook, url)) }
            if let phone = shop.phone, wanted.isEmpty { wanted.append((.sms, phone)) }
        }
        var out: [(Channel, String?)] = wanted.filter { channels.contains($0.0) }.map { ($0.0, $0.1) }
        if out.count < wanted.count || wanted.isEmpty { out.append((.log, nil)) }
        return out
    }
}
