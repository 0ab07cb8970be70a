/// Every message Relais sends, named as its template files are
/// (`templates/<lang>/<raw value>.<email|sms>.mustache`, docs/templates.md).
///
/// The outbox stores the raw value; the delivery worker reads it back as text and
/// renders it through the template set, so a name no longer in this list (a row written
/// by an older Relais) fails as an unknown template there, as any other name would.
public enum MessageTemplate: String, CaseIterable, Sendable {
    /// To the shop: a new order to prepare.
    case orderPlacedShop = "order-placed-shop"
    /// To the customer: the order is received.
    case orderPlacedCustomer = "order-placed-customer"
    /// To the customer: the shop accepted the order.
    case orderConfirmedCustomer = "order-confirmed-customer"
    /// To the customer: the order can be collected.
    case orderReadyCustomer = "order-ready-customer"
    /// To the shop: the order is cancelled.
    case orderCancelledShop = "order-cancelled-shop"
    /// To the customer: the order is cancelled.
    case orderCancelledCustomer = "order-cancelled-customer"
    /// To the shop: an uncollected order expired.
    case orderExpiredShop = "order-expired-shop"
    /// To the customer: their uncollected order expired.
    case orderExpiredCustomer = "order-expired-customer"
    /// To the customer: a ready order is still waiting (`ReminderKind.uncollected`).
    case pickupReminderCustomer = "pickup-reminder-customer"
    /// To the customer: the evening before a booked slot (`ReminderKind.evening`).
    case pickupEveningCustomer = "pickup-evening-customer"
    /// To the customer: shortly before a booked slot (`ReminderKind.soon`).
    case pickupSoonCustomer = "pickup-soon-customer"
    /// To the customer: the order is on its way, with its tracking.
    case deliveryShippedCustomer = "delivery-shipped-customer"
    /// To the customer: the parcel waits at a relay point (code, address, hours, last day).
    case deliveryAtRelayCustomer = "delivery-at-relay-customer"
    /// To the customer: the relay point sends the parcel back soon (`ReminderKind.relayHold`).
    case deliveryHoldReminderCustomer = "delivery-hold-reminder-customer"
    /// To the customer: the parcel went back to the shop.
    case deliveryReturnedCustomer = "delivery-returned-customer"
    /// To the shop: a parcel is coming back.
    case deliveryReturnedShop = "delivery-returned-shop"
    /// To the shop: a customer asks for a quote.
    case quoteRequestedShop = "quote-requested-shop"
    /// To the customer: the shop's quote (or a revised one), with its amount, lines and link.
    case quoteSentCustomer = "quote-sent-customer"
    /// To the customer: an unanswered quote stops being valid soon (`ReminderKind.quoteExpiring`).
    case quoteReminderCustomer = "quote-reminder-customer"
    /// To the shop: the customer accepted the quote.
    case quoteAcceptedShop = "quote-accepted-shop"
    /// To the shop: the customer declined the quote.
    case quoteDeclinedShop = "quote-declined-shop"
    /// To the customer: the appointment is booked.
    case appointmentBookedCustomer = "appointment-booked-customer"
    /// To the shop: a new appointment.
    case appointmentBookedShop = "appointment-booked-shop"
    /// To the customer: the evening before an appointment (`ReminderKind.appointmentEvening`).
    case appointmentEveningCustomer = "appointment-evening-customer"
    /// To the customer: shortly before an appointment (`ReminderKind.appointmentSoon`).
    case appointmentSoonCustomer = "appointment-soon-customer"
    /// To the customer: the appointment moved.
    case appointmentRescheduledCustomer = "appointment-rescheduled-customer"
    /// To the customer: the appointment is cancelled (not sent when the customer cancelled).
    case appointmentCancelledCustomer = "appointment-cancelled-customer"
    /// To the shop: the appointment is cancelled (not sent when the shop cancelled).
    case appointmentCancelledShop = "appointment-cancelled-shop"

    /// Who the message is for: a shop's messages exist in French only (shops have no
    /// language in the contract), a customer's in every `Language`.
    public var recipient: Recipient {
        switch self {
        case .orderPlacedShop, .orderCancelledShop, .orderExpiredShop, .deliveryReturnedShop: .shop
        case .quoteRequestedShop, .quoteAcceptedShop, .quoteDeclinedShop: .shop
        case .quoteSentCustomer, .quoteReminderCustomer: .customer
        case .orderPlacedCustomer, .orderConfirmedCustomer, .orderReadyCustomer, .orderCancelledCustomer,
             .orderExpiredCustomer, .pickupReminderCustomer, .pickupEveningCustomer, .pickupSoonCustomer,
             .deliveryShippedCustomer, .deliveryAtRelayCustomer, .deliveryHoldReminderCustomer, .deliveryReturnedCustomer: .customer
        case .appointmentBookedShop, .appointmentCancelledShop: .shop
        case .appointmentBookedCustomer, .appointmentEveningCustomer, .appointmentSoonCustomer,
             .appointmentRescheduledCustomer, .appointmentCancelledCustomer: .customer
        }
    }

    /// The languages the message is written in.
    public var languages: [Language] {
        recipient == .shop ? [.fr] : Language.allCases
    }
}
