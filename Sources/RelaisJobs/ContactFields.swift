import RelaisContract
import RelaisDomain

/// The shop and customer objects every family reads as `order.placed` does, and their
/// fields' checks: one rule for an e-mail address, a phone number, a webhook URL or a
/// time zone, whichever job carries it.
enum ContactFields {
    /// A shop's fields.
    enum ShopKeys: String, CodingKey { case id, name, email, phone, webhook_url, timezone }
    /// A customer's fields.
    enum CustomerKeys: String, CodingKey { case name, email, phone, locale }

    /// A shop object.
    static func shop(_ s: JobFields<ShopKeys>) throws -> PlacedOrder.Shop {
        PlacedOrder.Shop(
            id: try s.requiredString(.id, maxLength: OrderRules.maxKeyLength),
            name: try s.requiredString(.name, maxLength: OrderRules.maxNameLength),
            email: try email(s, .email),
            phone: try phone(s, .phone),
            webhookURL: try webURL(s, .webhook_url),
            timeZone: try timeZone(s, .timezone) ?? OrderRules.defaultTimeZone)
    }

    /// A customer object; French unless `locale` says `en`.
    static func customer(_ s: JobFields<CustomerKeys>) throws -> PlacedOrder.Customer {
        let locale = try s.optionalString(.locale, maxLength: 10)
        guard locale == nil || Language(rawValue: locale!) != nil else {
            throw JobRejection(.invalidField, field: s.path(.locale), "must be fr or en")
        }
        return PlacedOrder.Customer(
            name: try s.requiredString(.name, maxLength: OrderRules.maxNameLength),
            email: try email(s, .email), phone: try phone(s, .phone),
            language: locale.flatMap(Language.init(rawValue:)) ?? .fr)
    }

    static func email<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: OrderRules.maxEmailLength) else { return nil }
        guard EmailAddress.isValid(value) else { throw JobRejection(.invalidField, field: c.path(key), "must be an e-mail address") }
        return value
    }

    static func phone<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: 16) else { return nil }
        guard OrderRules.isE164(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must be an E.164 phone number such as +33612345678")
        }
        return value
    }

    /// An http or https URL without a user name or password: a webhook, a tracking link, a quote's link.
    static func webURL<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: OrderRules.maxURLLength) else { return nil }
        guard WebAddress.isValid(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must be an http or https URL")
        }
        guard !WebAddress.hasUserInfo(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must not contain a user name or password (user:password@)")
        }
        return value
    }

    static func timeZone<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: OrderRules.maxTimeZoneLength) else { return nil }
        guard OrderRules.timeZones.contains(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must be an IANA time zone such as Europe/Paris")
        }
        return value
    }
}
