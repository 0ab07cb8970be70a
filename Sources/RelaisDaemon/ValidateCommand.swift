import ArgumentParser
import Foundation
import RelaisJobs
import RelaisDomain

/// `relais validate`: check jobs against the contract without enqueueing them.
///
/// The same decoder as the daemon's, so producers can test their payloads in CI and the
/// contract tests can compare the JSON Schemas with the daemon's own rules.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check jobs (one JSON envelope per line on standard input) as the daemon would, without enqueueing them.",
        discussion: """
            Prints one JSON line per input line: {"line":N,"ok":true} or \
            {"line":N,"ok":false,"code":"invalid_field","field":"data.shop.email","reason":"…"}. \
            Exit status: 0 when every job would be accepted, 65 otherwise. \
            --time-zones prints instead the IANA time zone names this build accepts for \
            order.placed's data.shop.timezone, one per line; --families the queues and \
            their job types, one JSON line per queue: {"queue":"stock","types":["stock.levels",…]}.
            """)

    @Option(help: "The queue the jobs are for: \(JobFamilies.queues.joined(separator: ", ")).") var queue: String?
    @Flag(help: "Print the IANA time zone names this build accepts, sorted, and exit.") var timeZones = false
    @Flag(help: "Print the queues and their job types, one JSON line per queue, and exit.") var families = false

    /// One line of the report.
    struct Verdict: Encodable {
        var line: Int
        var ok: Bool
        var code: String?
        var field: String?
        var reason: String?
    }

    func run() throws {
        if timeZones {
            for name in OrderRules.timeZones.sorted() { print(name) }
            return
        }
        if families {
            struct Family: Encodable {
                let queue: String
                let types: [String]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for adapter in JobFamilies.all {
                FileHandle.standardOutput.write(try encoder.encode(Family(queue: adapter.queue, types: adapter.types)) + Data("\n".utf8))
            }
            return
        }
        guard let queue else { throw ValidationError("give --queue, --time-zones or --families") }
        guard JobFamilies.queues.contains(queue) else {
            throw fail("\"\(queue)\" is not a queue of this relais (\(JobFamilies.queues.joined(separator: ", ")))", ExitStatus.usage)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let input = FileHandle.standardInput.readDataToEndOfFile()
        var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var refused = false
        for (index, line) in lines.enumerated() {
            var verdict = Verdict(line: index + 1, ok: true)
            if let rejection = JobFamilies.validate(queue: queue, payload: Array(line)) {
                verdict = Verdict(line: index + 1, ok: false, code: rejection.code.rawValue, field: rejection.field,
                                  reason: rejection.message)
                refused = true
            }
            FileHandle.standardOutput.write(try encoder.encode(verdict) + Data("\n".utf8))
        }
        if refused { throw ExitStatus.dataError }
    }
}
