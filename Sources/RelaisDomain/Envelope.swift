import Foundation

/// The job types of one queue and how to read their `data`.
///
/// The queue engine is generic over this: it validates the envelope and hands the
/// catalogue a decoder positioned on `data`.
public protocol JobCatalog: Sendable {
    /// The decoded, validated form of a job of this queue.
    associatedtype Job: Sendable

    /// The queue's name, such as `stock`.
    var queue: String { get }
    /// The job types this queue accepts, such as `stock.levels`.
    var types: [String] { get }
    /// Reads and validates `data` for a job of `type` (always one of `types`).
    ///
    /// Throws a `JobRejection` naming the field for any rule broken.
    func decode(type: String, data: any Decoder) throws -> Job
}

/// A validated job: the envelope's fields and the typed payload.
public struct Envelope<Job: Sendable>: Sendable {
    /// The producer's idempotency key.
    public let id: String
    /// The job type, such as `stock.levels`.
    public let type: String
    /// The envelope version.
    public let version: Int
    /// When the producer enqueued it, if it said.
    public let enqueuedAt: Timestamp?
    /// The typed payload.
    public let job: Job
}

/// Why an envelope was rejected, with what could still be read of it for the dead letters.
public struct EnvelopeFailure: Error, Sendable {
    /// The rule that was broken.
    public let rejection: JobRejection
    /// The job id, if it was present and valid.
    public let id: String?
    /// The job type, if it was present and a string.
    public let type: String?
}

/// The rules of the envelope every job shares (CONTRACT.md, "Envelope").
public enum EnvelopeRules {
    /// The largest payload accepted, in bytes.
    public static let maxBytes = 1 << 20
    /// The longest job id.
    public static let maxIdLength = 200
    /// The envelope versions this daemon understands.
    public static let versions = 1...1

    /// Whether `id` is a valid idempotency key: 1–200 of `A-Z a-z 0-9 . _ : -`.
    public static func isValidId(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maxIdLength else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
        }
    }
}

/// Decodes and validates job payloads for one queue.
public struct EnvelopeDecoder<Catalog: JobCatalog>: Sendable {
    /// The queue's job types.
    public let catalog: Catalog
    /// The size limit in bytes.
    public let maxBytes: Int
    /// Made once: a decoder and its user info cost more than a small job's fields.
    private let decoder: JSONDecoder

    /// Creates a decoder for `catalog`'s queue.
    public init(_ catalog: Catalog, maxBytes: Int = EnvelopeRules.maxBytes) {
        self.catalog = catalog
        self.maxBytes = maxBytes
        decoder = JSONDecoder()
        decoder.userInfo[catalogKey] = catalog
    }

    /// Reads a job from the bytes of a stream entry's `job` field.
    public func decode(_ bytes: [UInt8]) -> Result<Envelope<Catalog.Job>, EnvelopeFailure> {
        if bytes.count > maxBytes {
            return .failure(EnvelopeFailure(
                rejection: JobRejection(.tooLarge, "payload is \(bytes.count) bytes, the limit is \(maxBytes)"), id: nil, type: nil))
        }
        if String(validating: bytes, as: UTF8.self) == nil {
            return .failure(EnvelopeFailure(rejection: JobRejection(.malformedJSON, "not valid UTF-8 JSON"), id: nil, type: nil))
        }
        do {
            let body = try decoder.decode(EnvelopeBody<Catalog>.self, from: Data(bytes))
            return .success(body.envelope)
        } catch let rejection as JobRejection {
            return .failure(failure(rejection, bytes))
        } catch let error as DecodingError {
            return .failure(failure(JobRejection(decodingError: error), bytes))
        } catch {
            return .failure(failure(JobRejection(.malformedJSON, "\(error)"), bytes))
        }
    }

    /// Recovers the id and type of a rejected job, so the dead letter can name them.
    private func failure(_ rejection: JobRejection, _ bytes: [UInt8]) -> EnvelopeFailure {
        guard rejection.code != .malformedJSON,
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else { return EnvelopeFailure(rejection: rejection, id: nil, type: nil) }
        let id = (object["id"] as? String).flatMap { EnvelopeRules.isValidId($0) ? $0 : nil }
        let type = (object["type"] as? String).flatMap { $0.utf8.count <= 100 ? $0 : nil }
        return EnvelopeFailure(rejection: rejection, id: id, type: type)
    }
}

private let catalogKey = CodingUserInfoKey(rawValue: "relais.catalog")!

private struct EnvelopeBody<Catalog: JobCatalog>: Decodable {
    let envelope: Envelope<Catalog.Job>

    enum Keys: String, CodingKey { case id, type, data, v, enqueued_at }

    init(from decoder: any Decoder) throws {
        guard let catalog = decoder.userInfo[catalogKey] as? Catalog else {
            preconditionFailure("EnvelopeDecoder sets the catalogue")
        }
        let top: KeyedDecodingContainer<Keys>
        do {
            top = try decoder.container(keyedBy: Keys.self)
        } catch {
            throw JobRejection(.malformedJSON, "the job must be a JSON object")
        }
        let id = try top.requiredString(.id, maxLength: EnvelopeRules.maxIdLength)
        guard EnvelopeRules.isValidId(id) else {
            throw JobRejection(.invalidField, field: "id", "must be 1–200 characters of A-Z a-z 0-9 . _ : -")
        }
        let type = try top.requiredString(.type, maxLength: 100)
        let version = try top.optionalInteger(.v, in: 1...Int64(Int32.max)).map(Int.init) ?? 1
        guard EnvelopeRules.versions.contains(version) else {
            throw JobRejection(.unsupportedVersion, field: "v", "envelope version \(version) is not supported (this daemon reads \(EnvelopeRules.versions.upperBound))")
        }
        let enqueuedAt = try top.optionalTimestamp(.enqueued_at)
        guard catalog.types.contains(type) else {
            throw JobRejection(.unknownType, field: "type",
                               "\"\(type)\" is not a job type of queue \(catalog.queue) (expected one of \(catalog.types.joined(separator: ", ")))")
        }
        guard top.contains(.data) else { throw JobRejection(.missingField, field: "data", "is required") }
        if try top.decodeNil(forKey: .data) { throw JobRejection(.invalidField, field: "data", "must be an object, not null") }
        let job = try catalog.decode(type: type, data: try top.superDecoder(forKey: .data))
        envelope = Envelope(id: id, type: type, version: version, enqueuedAt: enqueuedAt, job: job)
    }
}

extension JobRejection {
    /// Turns Foundation's decoding errors into rejections that name the field.
    init(decodingError error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(.missingField, field: fieldPath(context.codingPath + [key]), "is required")
        case .typeMismatch(let type, let context):
            let path = fieldPath(context.codingPath)
            self.init(path.isEmpty ? .malformedJSON : .invalidField, field: path.isEmpty ? nil : path, "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            self.init(.invalidField, field: fieldPath(context.codingPath), "must be \(describe(type)), not null")
        case .dataCorrupted(let context):
            let path = fieldPath(context.codingPath)
            if path.isEmpty {
                self.init(.malformedJSON, "not valid UTF-8 JSON")
            } else {
                self.init(.invalidField, field: path, "has an invalid value")
            }
        @unknown default:
            self.init(.malformedJSON, "\(error)")
        }
    }
}

/// `data.levels[3].sku` from a coding path.
func fieldPath(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
        if let index = key.intValue, key.stringValue.hasPrefix("Index") || key.stringValue == "\(index)" {
            out += "[\(index)]"
        } else {
            if !out.isEmpty { out += "." }
            out += key.stringValue
        }
    }
    return out
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Bool.Type: "a boolean"
    case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
    case is Double.Type: "a number"
    case is [Any].Type: "an array"
    case is [String: Any].Type: "an object"
    default:
        String(describing: type).contains("Array") ? "an array"
            : (String(describing: type).contains("Dictionary") || String(describing: type).contains("Keyed")) ? "an object" : "\(type)"
    }
}
