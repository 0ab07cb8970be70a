import CJSONC

/// A JSON document parsed by json-c, read through `JSONValue`s.
///
/// The values point into the document: use them only while it is alive
/// (`withExtendedLifetime`, or keep the document in scope).
public final class JSONDocument {
    private let root: OpaquePointer?

    /// Why a text is not a JSON document.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses `bytes` as one JSON value (RFC 8259, UTF-8), with nothing but whitespace after it.
    /// A thread that parses many documents keeps a `JSONParser` instead.
    public convenience init(parsing bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int32 = 128) throws(Malformed) {
        guard let parser = JSONParser(maxDepth: maxDepth) else { throw Malformed(description: "out of memory") }
        try self.init(parsing: bytes, with: parser)
    }

    /// Parses `bytes` with `parser`'s tokener.
    ///
    /// A first pass (`JSONText`) refuses what json-c would read but JSON, UTF-8 or a
    /// producer's parser would not; a key repeated in the top-level object is refused too,
    /// since parsers disagree about which of the two counts. Every refusal says what is
    /// wrong and at which byte offset.
    init(parsing bytes: UnsafeBufferPointer<UInt8>, with parser: JSONParser) throws(Malformed) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { throw Malformed(description: "empty") }
        let summary = try JSONText.check(bytes, maxDepth: parser.maxDepth)
        let tokener = parser.tokener
        json_tokener_reset(tokener)
        let parsed = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            json_tokener_parse_ex(tokener, $0, Int32(clamping: bytes.count))
        }
        let error = json_tokener_get_error(tokener)
        let end = json_tokener_get_parse_end(tokener)
        guard error == json_tokener_success else {
            json_object_put(parsed)
            throw Malformed(description: "\(String(cString: json_tokener_error_desc(error))) at byte \(end)")
        }
        guard bytes[end...].allSatisfy(Self.isWhitespace) else {
            json_object_put(parsed)
            throw Malformed(description: "text after the value at byte \(end)")
        }
        // json-c keeps the last of repeated keys, so the table is smaller than the text's members.
        if json_object_get_type(parsed) == json_type_object,
           Int(json_object_object_length(parsed)) != summary.topLevelMembers {
            json_object_put(parsed)
            throw Malformed(description: "a key repeated in the top-level object at byte \(Self.repeatedTopLevelKey(bytes))")
        }
        root = parsed
    }

    deinit { json_object_put(root) }

    /// The top-level value.
    public var value: JSONValue { JSONValue(root) }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// The offset of the second occurrence of the first key that the top-level object of
    /// `bytes` (already checked) repeats; only read when json-c's table shows a repeat.
    private static func repeatedTopLevelKey(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var seen = Set<[UInt8]>()
        var depth = 0
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: "\""):
                var end = i + 1
                while bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
                var next = end + 1
                while next < bytes.count, isWhitespace(bytes[next]) { next += 1 }
                if depth == 1, next < bytes.count, bytes[next] == UInt8(ascii: ":"),
                   !seen.insert(decodedKey(UnsafeBufferPointer(rebasing: bytes[i...end]))).inserted {
                    return i
                }
                i = end
            default: break
            }
            i += 1
        }
        return 0
    }

    /// The bytes of the JSON string `quoted` (quotes included), escapes decoded by json-c.
    private static func decodedKey(_ quoted: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard let base = quoted.baseAddress, let tokener = json_tokener_new() else { return Array(quoted) }
        defer { json_tokener_free(tokener) }
        let value = base.withMemoryRebound(to: CChar.self, capacity: quoted.count) {
            json_tokener_parse_ex(tokener, $0, Int32(clamping: quoted.count))
        }
        defer { json_object_put(value) }
        guard let text = json_object_get_string(value) else { return Array(quoted) }
        let length = Int(json_object_get_string_len(value))
        return text.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

/// A json-c tokener kept for the documents one thread parses one after the other:
/// making one allocates and clears its whole nesting stack, work a consumer would
/// otherwise repeat for every job. Not for two threads at once.
public final class JSONParser {
    fileprivate let tokener: UnsafeMutablePointer<json_tokener>
    fileprivate let maxDepth: Int

    /// A parser refusing documents nested deeper than `maxDepth`; nil when out of memory.
    public init?(maxDepth: Int32 = 128) {
        guard let tokener = json_tokener_new_ex(maxDepth) else { return nil }
        self.maxDepth = Int(maxDepth)
        // Not JSON_TOKENER_VALIDATE_UTF8: JSONText's pass, which every text goes through
        // first, checks more (overlong forms, surrogates), so json-c's check would only be a
        // second pass over every string.
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT)
        self.tokener = tokener
    }

    deinit { json_tokener_free(tokener) }

    /// Parses `bytes` as `JSONDocument(parsing:)` does.
    public func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONDocument.Malformed) -> JSONDocument {
        try JSONDocument(parsing: bytes, with: self)
    }
}

/// One value of a `JSONDocument`; JSON `null` is a value too.
public struct JSONValue {
    fileprivate let pointer: OpaquePointer?

    fileprivate init(_ pointer: OpaquePointer?) { self.pointer = pointer }

    /// What a value is.
    public enum Kind: Sendable, Equatable {
        case null, bool, integer, number, string, array, object
    }

    /// The value's kind (json-c keeps integers apart from other numbers).
    public var kind: Kind {
        guard let pointer else { return .null }
        switch json_object_get_type(pointer) {
        case json_type_boolean: return .bool
        case json_type_int: return .integer
        case json_type_double: return .number
        case json_type_string: return .string
        case json_type_array: return .array
        case json_type_object: return .object
        default: return .null
        }
    }

    /// The member `key` of an object: nil when absent, a `.null` value when null.
    public func member(_ key: String) -> JSONValue? {
        guard let pointer, json_object_get_type(pointer) == json_type_object else { return nil }
        var found: OpaquePointer?
        guard json_object_object_get_ex(pointer, key, &found) != 0 else { return nil }
        return JSONValue(found)
    }

    /// A string's text, its length given by json-c so that `\u0000` inside is kept.
    public var string: String? {
        guard kind == .string, let text = json_object_get_string(pointer) else { return nil }
        let length = Int(json_object_get_string_len(pointer))
        return text.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// An integer, written as one (`40`) or as a number without a fraction (`40.0`);
    /// nil for anything else, and for integers beyond 64 bits.
    public var integer: Int64? {
        switch kind {
        case .integer:
            // json-c saturates what does not fit; a saturated value is refused like a fraction.
            let value = json_object_get_int64(pointer)
            return value == .max || value == .min ? nil : value
        case .number:
            let value = json_object_get_double(pointer)
            guard value.isFinite, value.rounded() == value, abs(value) < 9.0e18 else { return nil }
            return Int64(value)
        default:
            return nil
        }
    }

    /// A boolean; nil for anything else.
    public var bool: Bool? {
        kind == .bool ? json_object_get_boolean(pointer) != 0 : nil
    }

    /// An array's elements; nil for anything else.
    public var elements: [JSONValue]? {
        guard kind == .array else { return nil }
        let count = json_object_array_length(pointer)
        return (0..<count).map { JSONValue(json_object_array_get_idx(pointer, $0)) }
    }
}
