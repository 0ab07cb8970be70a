import CSystemd
import Glibc

/// Structured entries to journald through `sd_journal_sendv`.
///
/// `sd_journal_sendv` returns success even when no journald listens; whether to use
/// the journal at all is the caller's decision (see `$JOURNAL_STREAM`).
public struct SystemdJournal: Sendable {
    /// Creates a journal writer.
    public init() {}

    /// Sends one entry; `fields` are `(NAME, value)` with names of `A-Z 0-9 _`.
    public func send(_ fields: [(String, String)]) {
        // One contiguous buffer holds every `NAME=value`, so no pointer outlives the call.
        var bytes: [UInt8] = []
        var spans: [(offset: Int, count: Int)] = []
        for (name, value) in fields {
            let start = bytes.count
            bytes += name.utf8
            bytes.append(UInt8(ascii: "="))
            bytes += value.utf8
            spans.append((start, bytes.count - start))
        }
        bytes.withUnsafeMutableBytes { raw in
            let vectors = spans.map { iovec(iov_base: raw.baseAddress! + $0.offset, iov_len: $0.count) }
            _ = vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
