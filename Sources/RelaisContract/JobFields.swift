import JSONReader
import RelaisDomain

/// An object of a job's JSON, read field by field by names of `Key`, with the
/// contract's rules: a broken rule throws a `JobRejection` that names the field.
///
/// Every job type reads its `data` through these, so that the messages in the dead
/// letters read the same for every field.
public struct JobFields<Key: CodingKey> {
    private let object: JSONValue
    /// Where the object is in the job, such as `data.levels` (empty for the envelope)...
    private let location: String
    /// ...and its index there when it is an array's element: the path is only spelled
    /// out for a rejection, not for each of a catalogue's thousand levels.
    private let index: Int?

    init(_ object: JSONValue, at location: String, index: Int? = nil) {
        self.object = object
        self.location = location
        self.index = index
    }

    /// The path of `key` in the job, such as `data.levels[3].sku`.
    public func path(_ key: Key) -> String {
        let here = index.map { "\(location)[\($0)]" } ?? location
        return here.isEmpty ? key.stringValue : here + "." + key.stringValue
    }

    /// The raw value of `key`: nil when absent, a `.null` value when null.
    func member(_ key: Key) -> JSONValue? { object.member(key.stringValue) }

    /// Whether the object has `key`, even as null.
    public func contains(_ key: Key) -> Bool { object.member(key.stringValue) != nil }

    /// The value of `key`, nil when absent or null.
    private func value(_ key: Key) -> JSONValue? {
        guard let value = object.member(key.stringValue), value.kind != .null else { return nil }
        return value
    }

    /// A required, non-null string of 1…`maxLength` characters.
    public func requiredString(_ key: Key, maxLength: Int) throws -> String {
        guard let value = try optionalString(key, maxLength: maxLength) else { throw absent(key, "a string") }
        return value
    }

    /// Why a required field gave nothing: missing, or null.
    private func absent(_ key: Key, _ what: String) -> JobRejection {
        contains(key)
            ? JobRejection(.invalidField, field: path(key), "must be \(what), not null")
            : JobRejection(.missingField, field: path(key), "is required")
    }

    /// An optional string of 1…`maxLength` characters; absent or null gives nil.
    public func optionalString(_ key: Key, maxLength: Int) throws -> String? {
        guard let found = value(key) else { return nil }
        guard let value = found.string else { throw JobRejection(.invalidField, field: path(key), "must be a string") }
        guard !value.isEmpty else { throw JobRejection(.invalidField, field: path(key), "must not be empty") }
        // Counted in code points, as JSON Schema and PostgreSQL count them (no more than
        // its bytes, so counting them is seldom needed).
        guard value.utf8.count <= maxLength || value.unicodeScalars.count <= maxLength else {
            throw JobRejection(.invalidField, field: path(key), "must be at most \(maxLength) characters")
        }
        guard TextRules.isSingleLine(value) else {
            throw JobRejection(.invalidField, field: path(key), TextRules.singleLineRule)
        }
        return value
    }

    /// A required integer within `range`.
    public func requiredInteger(_ key: Key, in range: ClosedRange<Int64>) throws -> Int64 {
        guard let value = try optionalInteger(key, in: range) else { throw absent(key, "an integer") }
        return value
    }

    /// An optional integer within `range`; absent or null gives nil. `40.0` is the integer 40.
    public func optionalInteger(_ key: Key, in range: ClosedRange<Int64>) throws -> Int64? {
        guard let found = value(key) else { return nil }
        guard let value = found.integer else { throw JobRejection(.invalidField, field: path(key), "must be an integer") }
        guard range.contains(value) else {
            throw JobRejection(.invalidField, field: path(key), "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// An optional boolean; absent or null gives nil.
    public func optionalBool(_ key: Key) throws -> Bool? {
        guard let found = value(key) else { return nil }
        guard let value = found.bool else { throw JobRejection(.invalidField, field: path(key), "must be true or false") }
        return value
    }

    /// A required RFC 3339 date-time.
    public func requiredTimestamp(_ key: Key) throws -> Timestamp {
        guard let value = try optionalTimestamp(key) else { throw absent(key, "an RFC 3339 date-time") }
        return value
    }

    /// An optional RFC 3339 date-time; absent or null gives nil.
    public func optionalTimestamp(_ key: Key) throws -> Timestamp? {
        guard let found = value(key) else { return nil }
        guard let text = found.string else {
            throw JobRejection(.invalidField, field: path(key), "must be an RFC 3339 date-time string")
        }
        guard let value = Timestamp(rfc3339: text) else {
            throw JobRejection(.invalidField, field: path(key), "must be an RFC 3339 date-time such as 2026-11-28T09:30:00+01:00")
        }
        return value
    }

    /// A required array of `count` elements, each an object read by `element`.
    public func requiredArray<Element, ElementKey: CodingKey>(
        _ key: Key, count: ClosedRange<Int>, keyedBy: ElementKey.Type,
        _ element: (JobFields<ElementKey>) throws -> Element
    ) throws -> [Element] {
        guard let found = object.member(key.stringValue) else { throw JobRejection(.missingField, field: path(key), "is required") }
        guard let items = found.elements else { throw JobRejection(.invalidField, field: path(key), "must be an array") }
        guard count.contains(items.count) else {
            throw JobRejection(.invalidField, field: path(key), "must have \(count.lowerBound)–\(count.upperBound) entries, got \(items.count)")
        }
        let arrayPath = path(key)
        var out: [Element] = []
        out.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard item.kind == .object else { throw JobRejection(.invalidField, field: "\(arrayPath)[\(index)]", "must be an object") }
            out.append(try element(JobFields<ElementKey>(item, at: arrayPath, index: index)))
        }
        return out
    }

    /// A required object, read by `body`.
    public func requiredObject<Value, NestedKey: CodingKey>(
        _ key: Key, keyedBy: NestedKey.Type, _ body: (JobFields<NestedKey>) throws -> Value
    ) throws -> Value {
        guard let found = object.member(key.stringValue) else { throw JobRejection(.missingField, field: path(key), "is required") }
        guard found.kind == .object else { throw JobRejection(.invalidField, field: path(key), "must be an object") }
        return try body(JobFields<NestedKey>(found, at: path(key)))
    }
}

/// A job's `data`, as the envelope hands it to its queue's catalogue.
public struct JobData {
    let value: JSONValue

    /// `data`'s fields; a `data` that is not an object is rejected.
    public func fields<Key: CodingKey>(keyedBy: Key.Type) throws -> JobFields<Key> {
        guard value.kind == .object else { throw JobRejection(.invalidField, field: "data", "must be an object") }
        return JobFields(value, at: "data")
    }
}
