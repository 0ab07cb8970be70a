import Foundation
import Logging
import Synchronization

/// Writes one logfmt line per event to standard error:
/// `ts=… level=info msg="job done" job.id=… job.queue=stock …`.
///
/// Keys are the metadata's dotted names; values are quoted when they need it and
/// redacted of e-mail addresses and phone numbers.
public struct LogfmtLogHandler: ProcessLevelLogHandler {
    public var metadata: Logger.Metadata = [:]
    /// The level this handler obeys: the process's unless given another.
    public let levelControl: LogLevelControl
    fileprivate let write: @Sendable (String) -> Void

    /// A handler writing to standard error, or to `write` (tests), at the level of
    /// `levelControl` (a test gives its own, so as not to change the process's level
    /// under the tests running beside it).
    public init(levelControl: LogLevelControl = .shared, write: @escaping @Sendable (String) -> Void = StandardError.write) {
        self.levelControl = levelControl
        self.write = write
    }

    public func log(event: LogEvent) {
        write(Self.line(level: event.level, message: "\(event.message)", metadata: merged(event.metadata), timestamp: LogClock.shared.now()))
    }

    private func merged(_ extra: Logger.Metadata?) -> Logger.Metadata {
        guard let extra else { return metadata }
        return metadata.isEmpty ? extra : metadata.merging(extra) { _, new in new }
    }

    /// One logfmt line, keys sorted, ending in a newline.
    public static func line(level: Logger.Level, message: String, metadata: Logger.Metadata, timestamp: String) -> String {
        let fields = metadata.sorted { $0.key < $1.key }.map { key, value in
            if case .string(let text) = value { return (key, text) }
            return (key, "\(value)")
        }
        return line(level: level, message: message, fields: fields, timestamp: timestamp)
    }

    /// One logfmt line with `fields` in the order given, ending in a newline.
    ///
    /// Built as bytes, and each value that needs neither quotes nor redaction (ids,
    /// numbers, names of things: nearly all of them) is copied whole after one scan:
    /// this runs for every job.
    public static func line(level: Logger.Level, message: String, fields: [(key: String, value: String)], timestamp: String) -> String {
        var line: [UInt8] = []
        line.reserveCapacity(64 + message.utf8.count + fields.count * 40)
        line += "ts=".utf8
        line += timestamp.utf8
        line += " level=".utf8
        line += level.rawValue.utf8
        line += " msg=".utf8
        appendValue(message, to: &line)
        for (key, value) in fields {
            line.append(UInt8(ascii: " "))
            line += key.utf8
            line.append(UInt8(ascii: "="))
            appendValue(value, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return String(decoding: line, as: UTF8.self)
    }

    /// Spaces, controls, `=`, `"` and `\` make a value quoted.
    private static func needsQuotes(_ byte: UInt8) -> Bool {
        byte <= 0x20 || byte == 0x3D || byte == 0x22 || byte == 0x5C || byte == 0x7F
    }

    /// The first byte of a C1 control (C2 80…9F) or of U+2028/U+2029 (E2 80 A8/A9), and
    /// of many printable characters too: a value with one gets a closer look.
    private static func mayStartWideControl(_ byte: UInt8) -> Bool {
        byte == 0xC2 || byte == 0xE2
    }

    private static func appendValue(_ value: String, to line: inout [UInt8]) {
        var value = value
        let plain = value.withUTF8 { bytes in
            guard !bytes.isEmpty, !bytes.contains(where: { needsQuotes($0) || Redaction.startsRedaction($0) || mayStartWideControl($0) })
            else { return false }
            line.append(contentsOf: bytes)
            return true
        }
        guard !plain else { return }
        let redacted = Redaction.redact(value)
        guard redacted.isEmpty || redacted.utf8.contains(where: needsQuotes)
                || redacted.unicodeScalars.contains(where: ControlCharacters.isControl) else {
            line += redacted.utf8
            return
        }
        line.append(UInt8(ascii: "\""))
        // Every control character is escaped: one a producer wrote must not end the
        // line, forge another, or reach a terminal reading the log.
        for scalar in redacted.unicodeScalars {
            switch scalar {
            case "\"": line += #"\""#.utf8
            case "\\": line += #"\\"#.utf8
            case _ where ControlCharacters.isControl(scalar): line += ControlCharacters.escape(scalar).utf8
            default: UTF8.encode(scalar) { line.append($0) }
            }
        }
        line.append(UInt8(ascii: "\""))
    }
}

/// Logs events whose fields are strings already in key order: the line written for
/// every job, so it must cost little beside the job. With the logfmt handler and no
/// handler metadata, the line is made straight from the fields, without building and
/// sorting a `Logger.Metadata` dictionary per event; any other handler gets the fields
/// as metadata, as from `Logger.log`.
public struct FieldLogger {
    private let logger: Logger
    private let logfmt: LogfmtLogHandler?
    private let timestamp: String

    /// Looks at `logger`'s handler and the clock once: make one per batch of events,
    /// which are then stamped with the same millisecond.
    public init(_ logger: Logger) {
        self.logger = logger
        if let handler = logger.handler as? LogfmtLogHandler, handler.metadata.isEmpty {
            logfmt = handler
        } else {
            logfmt = nil
        }
        timestamp = LogClock.shared.now()
    }

    /// Logs `message` at `level` with `fields`, whose keys must be in ascending order.
    public func log(_ level: Logger.Level, _ message: String, fields: [(key: String, value: String)]) {
        assert(zip(fields, fields.dropFirst()).allSatisfy { $0.key < $1.key }, "fields are in key order")
        guard logger.logLevel <= level else { return }
        if let logfmt {
            logfmt.write(LogfmtLogHandler.line(level: level, message: message, fields: fields, timestamp: timestamp))
            return
        }
        var metadata = Logger.Metadata(minimumCapacity: fields.count)
        for (key, value) in fields { metadata[key] = .string(value) }
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}

/// UTC timestamps with milliseconds, formatted once per second and then patched.
public final class LogClock: Sendable {
    /// The process's clock.
    public static let shared = LogClock()
    private let cache = Mutex<(second: Int, prefix: String)>((-1, ""))

    /// Now, as `2026-11-28T09:30:00.123Z`.
    public func now() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        let second = tv.tv_sec
        let millis = Int(tv.tv_usec / 1000)
        let prefix = cache.withLock { c -> String in
            if c.second != second {
                var t = time_t(second)
                var parts = tm()
                gmtime_r(&t, &parts)
                c = (second, String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                                    parts.tm_hour, parts.tm_min, parts.tm_sec))
            }
            return c.prefix
        }
        return prefix + "." + String(millis + 1000).dropFirst() + "Z"
    }
}

/// Writes to file descriptor 2, whole lines at a time: at once, or gathered on the
/// calling thread inside `gathering` and written together when it ends.
public enum StandardError {
    /// Writes `text` to standard error, or adds it to this thread's gathered lines.
    @Sendable public static func write(_ text: String) {
        if let buffer = LineBuffer.current {
            buffer.lines += text.utf8
            return
        }
        var text = text
        text.withUTF8 { writeAll($0) }
    }

    /// Runs `body`, gathering what it writes on this thread, then writes it with one
    /// system call: a batch's job lines cost one write instead of one each. Lines are
    /// whole and in order; a crash inside `body` loses only lines not yet written,
    /// never a job, since the jobs were settled before their lines are made.
    public static func gathering<R>(_ body: () throws -> R) rethrows -> R {
        if LineBuffer.current != nil { return try body() }
        let buffer = LineBuffer()
        LineBuffer.current = buffer
        defer {
            LineBuffer.current = nil
            buffer.lines.withUnsafeBufferPointer { writeAll($0) }
        }
        return try body()
    }

    private static func writeAll(_ buffer: UnsafeBufferPointer<UInt8>) {
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

/// The lines a thread gathers inside `StandardError.gathering`, found through a
/// thread-specific key: only the owning thread ever sees its buffer.
private final class LineBuffer {
    var lines: [UInt8] = []

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var current: LineBuffer? {
        get { pthread_getspecific(key).map { Unmanaged<LineBuffer>.fromOpaque($0).takeUnretainedValue() } }
        set {
            if let old = pthread_getspecific(key) { Unmanaged<LineBuffer>.fromOpaque(old).release() }
            pthread_setspecific(key, newValue.map { Unmanaged.passRetained($0).toOpaque() })
        }
    }
}
