/// Field readers that enforce the contract's rules and name the field when one is broken.
///
/// Every job type reads its `data` through these, so that the messages in the dead
/// letters read the same for every field.
extension KeyedDecodingContainer {
    /// The path of `key` in the job, such as `data.levels[3].sku`.
    public func path(_ key: Key) -> String { fieldPath(codingPath + [key]) }

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
    ///
    /// One `decodeIfPresent` per field: the decoder is the hot path of a busy queue.
    public func optionalString(_ key: Key, maxLength: Int) throws -> String? {
        let decoded: String?
        do { decoded = try decodeIfPresent(String.self, forKey: key) } catch {
            throw JobRejection(.invalidField, field: path(key), "must be a string")
        }
        guard let value = decoded else { return nil }
        guard !value.isEmpty else { throw JobRejection(.invalidField, field: path(key), "must not be empty") }
        // Counted in code points, as JSON Schema and PostgreSQL count them.
        guard value.unicodeScalars.count <= maxLength else {
            throw JobRejection(.invalidField, field: path(key), "must be at most \(maxLength) characters")
        }
        guard !value.utf8.contains(0) else {
            throw JobRejection(.invalidField, field: path(key), "must not contain U+0000")
        }
        return value
    }

    /// A required integer within `range`.
    public func requiredInteger(_ key: Key, in range: ClosedRange<Int64>) throws -> Int64 {
        guard let value = try optionalInteger(key, in: range) else { throw absent(key, "an integer") }
        return value
    }

    /// An optional integer within `range`; absent or null gives nil.
    public func optionalInteger(_ key: Key, in range: ClosedRange<Int64>) throws -> Int64? {
        let decoded: Int64?
        do { decoded = try decodeIfPresent(Int64.self, forKey: key) } catch {
            throw JobRejection(.invalidField, field: path(key), "must be an integer")
        }
        guard let value = decoded else { return nil }
        guard range.contains(value) else {
            throw JobRejection(.invalidField, field: path(key), "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    /// An optional boolean; absent or null gives nil.
    public func optionalBool(_ key: Key) throws -> Bool? {
        do { return try decodeIfPresent(Bool.self, forKey: key) } catch {
            throw JobRejection(.invalidField, field: path(key), "must be true or false")
        }
    }

    /// A required RFC 3339 date-time.
    public func requiredTimestamp(_ key: Key) throws -> Timestamp {
        guard let value = try optionalTimestamp(key) else { throw absent(key, "an RFC 3339 date-time") }
        return value
    }

    /// An optional RFC 3339 date-time; absent or null gives nil.
    public func optionalTimestamp(_ key: Key) throws -> Timestamp? {
        let decoded: String?
        do { decoded = try decodeIfPresent(String.self, forKey: key) } catch {
            throw JobRejection(.invalidField, field: path(key), "must be an RFC 3339 date-time string")
        }
        guard let text = decoded else { return nil }
        guard let value = Timestamp(rfc3339: text) else {
            throw JobRejection(.invalidField, field: path(key), "must be an RFC 3339 date-time such as 2026-11-28T09:30:00+01:00")
        }
        return value
    }

    /// A required array of `count` elements, each read by `element` from its own container.
    public func requiredArray<Element, ElementKey: CodingKey>(
        _ key: Key, count: ClosedRange<Int>, keyedBy: ElementKey.Type,
        _ element: (KeyedDecodingContainer<ElementKey>) throws -> Element
    ) throws -> [Element] {
        guard contains(key) else { throw JobRejection(.missingField, field: path(key), "is required") }
        var items: UnkeyedDecodingContainer
        do { items = try nestedUnkeyedContainer(forKey: key) } catch {
            throw JobRejection(.invalidField, field: path(key), "must be an array")
        }
        if let n = items.count, !count.contains(n) {
            throw JobRejection(.invalidField, field: path(key), "must have \(count.lowerBound)–\(count.upperBound) entries, got \(n)")
        }
        var out: [Element] = []
        out.reserveCapacity(items.count ?? 0)
        while !items.isAtEnd {
            let index = items.currentIndex
            let nested: KeyedDecodingContainer<ElementKey>
            do { nested = try items.nestedContainer(keyedBy: ElementKey.self) } catch {
                throw JobRejection(.invalidField, field: "\(path(key))[\(index)]", "must be an object")
            }
            out.append(try element(nested))
        }
        return out
    }

    /// A required object, read by `body` from its own container.
    public func requiredObject<Value, NestedKey: CodingKey>(
        _ key: Key, keyedBy: NestedKey.Type, _ body: (KeyedDecodingContainer<NestedKey>) throws -> Value
    ) throws -> Value {
        guard contains(key) else { throw JobRejection(.missingField, field: path(key), "is required") }
        let nested: KeyedDecodingContainer<NestedKey>
        do { nested = try nestedContainer(keyedBy: NestedKey.self, forKey: key) } catch {
            throw JobRejection(.invalidField, field: path(key), "must be an object")
        }
        return try body(nested)
    }
}
