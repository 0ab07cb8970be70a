import Foundation
import Logging
import Synchronization

/// Writes one logfmt line per event to standard error:
/// `ts=… level=info msg="job done" job.id=… job.queue=stock …`.
///
/// Keys are the metadata's dotted names; values are quoted when they need it.
struct LogfmtLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String

    init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "ts=" + LogClock.shared.now() + " level=" + event.level.rawValue + " msg="
        appendValue("\(event.message)", to: &line)
        let merged = event.metadata.map { metadata.merging($0) { _, new in new } } ?? metadata
        for key in merged.keys.sorted() {
            line += " " + key + "="
            appendValue("\(merged[key]!)", to: &line)
        }
        line += "\n"
        StandardError.write(line)
    }

    private func appendValue(_ value: String, to line: inout String) {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.isNewline }
        guard needsQuotes else {
            line += value
            return
        }
        line += "\""
        for ch in value {
            switch ch {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            default: line.append(ch)
            }
        }
        line += "\""
    }
}

/// UTC timestamps with milliseconds, formatted once per second and then patched.
final class LogClock: Sendable {
    static let shared = LogClock()
    private let cache = Mutex<(second: Int, prefix: String)>((-1, ""))

    func now() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        let second = tv.tv_sec
        let millis = Int(tv.tv_usec / 1000)
        let prefix = cache.withLock { c -> String in
            if c.second != second {
                c = (second, Date(timeIntervalSince1970: Double(second)).formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).dateTimeSeparator(.standard)).replacingOccurrences(of: "Z", with: ""))
            }
            return c.prefix
        }
        return prefix + "." + String(millis + 1000).dropFirst() + "Z"
    }
}

/// Unbuffered writes to file descriptor 2, whole lines at a time.
enum StandardError {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}
