import RedisClient

/// A kind of dead letter: the queue its job came from and the rejection's code.
public struct DeadLetterKind: Sendable, Hashable, Comparable {
    /// The queue.
    public let queue: String
    /// The code, such as `invalid_field`.
    public let code: String

    /// Orders by queue, then code.
    public static func < (a: Self, b: Self) -> Bool { (a.queue, a.code) < (b.queue, b.code) }
}

/// The dead letters counted by queue and code, kept up to date by reading each new
/// letter once.
///
/// Redis keeps no such count, and letters leave the stream by replay, purge and
/// trimming without saying which. The tally reads the stream forward from the last
/// letter it counted, a bounded number of letters per step so that a large stream never
/// holds up the housekeeper; once it has read to the end, fewer letters in the stream
/// than it counted means some left, and it counts again from the start. The counts it
/// shows are those of its last complete reading.
struct DeadLetterTally {
    /// The counts of the last complete reading.
    private(set) var counts: [DeadLetterKind: Int] = [:]
    private var reading: [DeadLetterKind: Int] = [:]
    private var readTotal = 0
    /// The id of the last letter counted; nil before the first.
    private var cursor: String?
    /// Whether the reading in progress started from the first letter.
    private var fromStart = true

    /// Reads at most `budget` letters of `stream` onward from the last one counted.
    mutating func step(_ redis: RedisConnection, stream: String, budget: Int) throws {
        var read = 0
        while read < budget {
            let count = min(500, budget - read)
            let start = cursor.map { "(" + $0 } ?? "-"
            let entries = StreamReplies.range(try redis.command("XRANGE", stream, start, "+", "COUNT", String(count)))
            add(entries)
            read += entries.count
            guard entries.count == count else {
                finish(streamLength: try redis.command("XLEN", stream).integer ?? 0)
                return
            }
        }
    }

    /// Counts `entries`, the next letters of the stream in order.
    mutating func add(_ entries: [StreamEntry]) {
        for entry in entries {
            let fields = entry.fields ?? [:]
            let kind = DeadLetterKind(queue: fields["queue"].map { String(decoding: $0, as: UTF8.self) } ?? "?",
                                      code: fields["code"].map { String(decoding: $0, as: UTF8.self) } ?? "?")
            reading[kind, default: 0] += 1
            readTotal += 1
            cursor = entry.id
        }
    }

    /// The reading reached the end of a stream that now holds `streamLength` letters:
    /// publish its counts, unless letters have left the stream since an earlier reading
    /// counted them; then start again from the first letter. A reading from the first
    /// letter is published either way, so that a stream trimmed all the time still shows
    /// counts, off by at most what left during one reading.
    mutating func finish(streamLength: Int64) {
        let lettersLeft = streamLength < Int64(readTotal)
        if !lettersLeft || fromStart { counts = reading }
        fromStart = lettersLeft
        if lettersLeft {
            reading = [:]
            readTotal = 0
            cursor = nil
        }
    }
}
