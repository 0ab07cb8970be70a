import CJSONC

/// Encodes `Encodable` values as JSON text with json-c: the value's own `encode(to:)`
/// fills json-c objects, and json-c writes them out.
///
/// Made for the JSON Relais stores (an order's details, a message's facts) on every
/// order, where Foundation's `JSONEncoder` cost far more (docs/performance.md). Keys come
/// out in the order the value encodes them; `nil` optionals are left out
/// (`encodeIfPresent`); integers are written exactly, floating-point numbers as json-c
/// writes them. Dates, URLs and data have no special form: values are written as their
/// own `Encodable` conformance says, which Relais's types spell out.
public struct JSONCEncoder: Sendable {
    public init() {}

    /// Why a value cannot be written as JSON.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The JSON text of `value`, without spaces, slashes unescaped.
    public func encode(_ value: some Encodable) throws -> String {
        let node = Node()
        try value.encode(to: NodeEncoder(node, codingPath: []))
        guard let object = node.take() else { throw Failure(description: "\(type(of: value)) encoded no value") }
        defer { json_object_put(object) }
        guard let text = json_object_to_json_string_ext(object, Int32(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) else {
            throw Failure(description: "json-c could not write \(type(of: value))")
        }
        return String(cString: text)
    }
}

/// Where one encoded value ends up: a json-c object this node owns until it is handed
/// to its parent (or written out and freed by `JSONCEncoder`). A superclass's node
/// (`superEncoder`) hands its value to `attach` when the encoder lets it go.
private final class Node {
    var object: OpaquePointer?
    private let attach: ((OpaquePointer?) -> Void)?

    init(attach: ((OpaquePointer?) -> Void)? = nil) { self.attach = attach }

    /// Sets the value, freeing one set before (a value may be encoded twice).
    func set(_ new: OpaquePointer?) {
        json_object_put(object)
        object = new
    }

    /// The object or array this node holds, made with `make` if it holds none yet.
    func container(_ type: json_type, _ make: () -> OpaquePointer?) -> OpaquePointer? {
        if let object, json_object_get_type(object) == type { return object }
        set(make())
        return object
    }

    /// Hands the value over to whoever adds it to a parent.
    func take() -> OpaquePointer? {
        defer { object = nil }
        return object
    }

    deinit {
        // An untouched superclass encoder leaves an empty object, as Foundation's does.
        if let attach { attach(take() ?? json_object_new_object()) } else { json_object_put(object) }
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ node: Node, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(object: node.container(json_type_object, json_object_new_object), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(array: node.container(json_type_array, json_object_new_array), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath)
    }
}

/// json-c objects for the primitive values, and nested values through a child encoder.
private enum Scalar {
    static func string(_ value: String) -> OpaquePointer? {
        var value = value
        return value.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                chars.baseAddress.map { json_object_new_string_len($0, Int32(clamping: chars.count)) } ?? json_object_new_string("")
            }
        }
    }

    static func integer(_ value: some BinaryInteger) throws -> OpaquePointer? {
        if let signed = Int64(exactly: value) { return json_object_new_int64(signed) }
        if let unsigned = UInt64(exactly: value) { return json_object_new_uint64(unsigned) }
        throw JSONCEncoder.Failure(description: "\(value) does not fit in 64 bits")
    }

    static func double(_ value: Double, _ codingPath: [any CodingKey]) throws -> OpaquePointer? {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "JSON has no \(value)"))
        }
        return json_object_new_double(value)
    }

    static func encoded(_ value: some Encodable, _ codingPath: [any CodingKey]) throws -> OpaquePointer? {
        let child = Node()
        try value.encode(to: NodeEncoder(child, codingPath: codingPath))
        return child.take() ?? json_object_new_object()
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: OpaquePointer?
    let codingPath: [any CodingKey]

    private func add(_ value: OpaquePointer?, _ key: Key) {
        json_object_object_add(object, key.stringValue, value)
    }

    mutating func encodeNil(forKey key: Key) throws { add(nil, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { add(json_object_new_boolean(value ? 1 : 0), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { add(Scalar.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { add(try Scalar.double(value, codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { add(try Scalar.double(Double(value), codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { add(try Scalar.integer(value), key) }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws { add(try Scalar.encoded(value, codingPath + [key]), key) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = json_object_new_object()
        add(nested, key)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = json_object_new_array()
        add(nested, key)
        return UnkeyedContainer(array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super", codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue, codingPath: codingPath + [key]) }

    /// A null holds the key's place until the superclass's value replaces it.
    private func superEncoder(named name: String, codingPath: [any CodingKey]) -> any Encoder {
        json_object_object_add(object, name, nil)
        return NodeEncoder(Node { [object] in json_object_object_add(object, name, $0) }, codingPath: codingPath)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let array: OpaquePointer?
    let codingPath: [any CodingKey]
    var count: Int { Int(json_object_array_length(array)) }

    private func add(_ value: OpaquePointer?) { json_object_array_add(array, value) }
    private var nextPath: [any CodingKey] { codingPath + [IndexKey(index: count)] }

    mutating func encodeNil() throws { add(nil) }
    mutating func encode(_ value: Bool) throws { add(json_object_new_boolean(value ? 1 : 0)) }
    mutating func encode(_ value: String) throws { add(Scalar.string(value)) }
    mutating func encode(_ value: Double) throws { add(try Scalar.double(value, nextPath)) }
    mutating func encode(_ value: Float) throws { add(try Scalar.double(Double(value), nextPath)) }
    mutating func encode(_ value: Int) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: Int8) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: Int16) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: Int32) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: Int64) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt8) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt16) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt32) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt64) throws { add(try Scalar.integer(value)) }
    mutating func encode(_ value: some Encodable) throws { add(try Scalar.encoded(value, nextPath)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        let nested = json_object_new_object()
        add(nested)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let nested = json_object_new_array()
        add(nested)
        return UnkeyedContainer(array: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        let index = json_object_array_length(array)
        add(nil)  // holds the element's place until the superclass's value replaces it
        return NodeEncoder(Node { [array] in _ = json_object_array_put_idx(array, index, $0) }, codingPath: path)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.set(nil) }
    mutating func encode(_ value: Bool) throws { node.set(json_object_new_boolean(value ? 1 : 0)) }
    mutating func encode(_ value: String) throws { node.set(Scalar.string(value)) }
    mutating func encode(_ value: Double) throws { node.set(try Scalar.double(value, codingPath)) }
    mutating func encode(_ value: Float) throws { node.set(try Scalar.double(Double(value), codingPath)) }
    mutating func encode(_ value: Int) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: Int8) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: Int16) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: Int32) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: Int64) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt8) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt16) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt32) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: UInt64) throws { node.set(try Scalar.integer(value)) }
    mutating func encode(_ value: some Encodable) throws { try value.encode(to: NodeEncoder(node, codingPath: codingPath)) }
}

private struct IndexKey: CodingKey {
    let index: Int
    var stringValue: String { String(index) }
    var intValue: Int? { index }
    init(index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { index = intValue }
}
