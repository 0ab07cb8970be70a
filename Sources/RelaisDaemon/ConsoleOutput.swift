import Foundation
import RelaisLogging

/// How the console commands print: tables with a header row, and typed JSON.
enum ConsoleOutput {
    /// Prints `rows` under `header`, columns padded to their widest cell, each line after `indent`.
    ///
    /// Every cell is escaped (`ControlCharacters.escaped`) and redacted of e-mail
    /// addresses and phone numbers (`Redaction.redact`): cells hold what producers and
    /// receivers wrote, which must neither drive the terminal nor show a person.
    static func table(_ header: [String], _ rows: [[String]], indent: String = "") {
        let cells = ([header] + rows).map { $0.map { ControlCharacters.escaped(Redaction.redact($0)) } }
        var widths = [Int](repeating: 0, count: header.count)
        for row in cells { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        for row in cells {
            var line = indent
            for (i, cell) in row.enumerated() {
                line += i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            print(line)
        }
    }

    /// Prints `value` as indented JSON with sorted keys, its own keys in snake case and
    /// the keys of embedded JSON (`JSONValue`) as they were written.
    ///
    /// As `printJSON`: control characters other than C0 (which JSONEncoder escapes) are
    /// escaped too, so that nothing a producer wrote can drive the terminal.
    static func json(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .custom { path in
            let key = path.last!
            return key is JSONValue.Key ? key : JSONValue.Key(snakeCase(key.stringValue))
        }
        guard let data = try? encoder.encode(value) else { return }
        print(escapingControls(data))
    }

    /// `entryId` → `entry_id`.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                if !out.isEmpty { out += "_" }
                out += character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// Milliseconds since the epoch as RFC 3339 in UTC, to the millisecond.
    static func utc(milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// A signed span for people: `in 4m 10s`, `12s ago`, `now`.
    static func relative(seconds: Double) -> String {
        let whole = Int(seconds.rounded(.towardZero))
        if whole == 0 { return "now" }
        let magnitude = whole.magnitude
        let (days, hours, minutes, secs) = (magnitude / 86_400, magnitude / 3600 % 24, magnitude / 60 % 60, magnitude % 60)
        let text = days > 0 ? "\(days)d \(hours)h" : hours > 0 ? "\(hours)h \(minutes)m" : minutes > 0 ? "\(minutes)m \(secs)s" : "\(secs)s"
        return whole > 0 ? "in " + text : text + " ago"
    }
}

/// Any JSON value, read from a producer's bytes to be printed as JSON again (typed, with
/// its keys as written) rather than as a string holding JSON.
enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A key kept as written: `ConsoleOutput.json` converts every other key to snake case.
    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Parses `bytes`; nil when they are not JSON.
    init?(parsing bytes: [UInt8]) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return nil }
        self = value
    }

    /// Reads a value; JSONDecoder reads a boolean only from `true`/`false` and an integer
    /// only from a number without a fraction, so the kinds stay as written.
    init(from decoder: any Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !list.isAtEnd { items.append(try list.decode(JSONValue.self)) }
            self = .array(items)
        } else if let members = try? decoder.container(keyedBy: Key.self) {
            var object: [String: JSONValue] = [:]
            for key in members.allKeys { object[key.stringValue] = try members.decode(JSONValue.self, forKey: key) }
            self = .object(object)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let value = try? c.decode(Bool.self) { self = .bool(value) }
            else if let value = try? c.decode(Int64.self) { self = .integer(value) }
            else if let value = try? c.decode(Double.self) { self = .number(value) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .integer(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .number(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .string(let value):
            var c = encoder.singleValueContainer()
            try c.encode(value)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: Key.self)
            for (key, value) in members { try c.encode(value, forKey: Key(key)) }
        }
    }
}
