import JSONReader
import RelaisDomain

/// The job types of one queue and how to read their `data`.
///
/// `EnvelopeDecoder` validates the envelope and hands the catalogue the job's `data`;
/// each job family has one (see RelaisJobs).
public protocol JobCatalog: SendableMetatype {
    /// The decoded, validated form of a job of this queue.
    associatedtype Job: Sendable

    /// The queue's name, such as `stock`.
    static var queue: String { get }
    /// The job types this queue accepts, such as `stock.levels`.
    static var types: [String] { get }
    /// Reads and validates `data` for a job of `type` (always one of `types`).
    ///
    /// Throws a `JobRejection` naming the field for any rule broken.
    static func decode(type: String, data: JobData) throws -> Job
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

/// Decodes and validates job payloads for one queue.
public struct EnvelopeDecoder<Catalog: JobCatalog>: Sendable {
    /// The size limit in bytes.
    public let maxBytes: Int

    /// Creates a decoder for `catalog`'s queue.
    public init(_ catalog: Catalog.Type, maxBytes: Int = EnvelopeRules.maxBytes) {
        self.maxBytes = maxBytes
    }

    /// Reads a job from the bytes of a stream entry's `job` field, with `parser` when the
    /// calling thread keeps one (see `JSONParser`).
    public func decode(_ bytes: [UInt8], parser: JSONParser? = nil) -> Result<Envelope<Catalog.Job>, EnvelopeFailure> {
        if bytes.count > maxBytes {
            return .failure(EnvelopeFailure(
                rejection: JobRejection(.tooLarge, "payload is \(bytes.count) bytes, the limit is \(maxBytes)"), id: nil, type: nil))
        }
        // Parsed by json-c behind JSONReader's own checks of the text: Foundation's Codable
        // decoding was the largest cost of a one-SKU job (docs/performance.md).
        return bytes.withUnsafeBufferPointer { buffer -> Result<Envelope<Catalog.Job>, EnvelopeFailure> in
            let document: JSONDocument
            do { document = try parser.map { try $0.parse(buffer) } ?? JSONDocument(parsing: buffer) } catch {
                return .failure(EnvelopeFailure(rejection: JobRejection(.malformedJSON, "\(error)"), id: nil, type: nil))
            }
            return withExtendedLifetime(document) {
                let top = document.value
                guard top.kind == .object else {
                    return .failure(EnvelopeFailure(rejection: JobRejection(.malformedJSON, "the job must be a JSON object"), id: nil, type: nil))
                }
                do {
                    return .success(try envelope(JobFields<EnvelopeKeys>(top, at: "")))
                } catch let rejection as JobRejection {
                    return .failure(failure(rejection, top))
                } catch {
                    return .failure(failure(JobRejection(.malformedJSON, "\(error)"), top))
                }
            }
        }
    }

    /// Recovers the id and type of a rejected job, so the dead letter can name them.
    private func failure(_ rejection: JobRejection, _ top: JSONValue) -> EnvelopeFailure {
        let id = top.member("id")?.string.flatMap { EnvelopeRules.isValidId($0) ? $0 : nil }
        let type = top.member("type")?.string.flatMap { $0.utf8.count <= 100 ? $0 : nil }
        return EnvelopeFailure(rejection: rejection, id: id, type: type)
    }

    private enum EnvelopeKeys: String, CodingKey { case id, type, data, v, enqueued_at }

    /// The envelope's fields, then the job type's own.
    private func envelope(_ top: JobFields<EnvelopeKeys>) throws -> Envelope<Catalog.Job> {
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
        guard Catalog.types.contains(type) else {
            throw JobRejection(.unknownType, field: "type",
                               "\"\(type)\" is not a job type of queue \(Catalog.queue) (expected one of \(Catalog.types.joined(separator: ", ")))")
        }
        guard let data = top.member(.data) else { throw JobRejection(.missingField, field: "data", "is required") }
        if data.kind == .null { throw JobRejection(.invalidField, field: "data", "must be an object, not null") }
        let job = try Catalog.decode(type: type, data: JobData(value: data))
        return Envelope(id: id, type: type, version: version, enqueuedAt: enqueuedAt, job: job)
    }
}

