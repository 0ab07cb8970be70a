import Foundation
import RelaisTestSupport
import Testing

/// Puts a dead letter in `<prefix>:dead` as the daemon writes one, and returns its entry id.
private func deadLetter(_ deployment: Deployment, queue: String, job: String) throws -> String {
    try deployment.producer.run(["XADD", "\(deployment.prefix):dead", "*", "queue", queue, "code", "invalid_field",
                                 "reason", "data.delta: must be an integer", "attempts", "1",
                                 "failed_at", "2026-11-28T12:00:00Z", "job_id", "r-1", "job_type", "stock.adjust", "job", job])
}

private let badAdjust = #"{"id":"r-1","type":"stock.adjust","data":{"shop_id":"r","sku":"a","delta":"four","at":"2026-11-28T12:00:00Z"}}"#
private let goodAdjust = #"{"id":"r-1","type":"stock.adjust","data":{"shop_id":"r","sku":"a","delta":4,"at":"2026-11-28T12:00:00Z"}}"#

@Suite("Dead letters: malformed JSON and replays", .serialized)
struct DeadLetterEndToEndTests {
    /// What json-c would read but a producer's validator would not is dead-lettered, and
    /// the reason says where; the `"id\u0000"` key that json-c read as `"id"` changes nothing.
    @Test func jobsJSONCWouldMisreadAreDeadLetteredSayingWhere() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let control = "{\"id\":\"m-1\",\"type\":\"stock.adjust\",\"data\":{\"shop_id\":\"m\u{1}\",\"sku\":\"a\",\"delta\":1,\"at\":\"2026-11-28T12:00:00Z\"}}"
        let nulKey = #"{"id":"m-2","id\u0000":"m-3","type":"stock.adjust","data":{"shop_id":"m","sku":"a","delta":2,"at":"2026-11-28T12:00:00Z"}}"#
        try deployment.producer.xadd(queue: "stock", payload: control)
        try deployment.producer.xadd(queue: "stock", payload: nulKey)
        #expect(try deployment.waitUntilDrained())
        let letters = try deployment.deadLetters()
        #expect(letters.map { $0["code"] } == ["malformed_json", "malformed_json"], "\(letters)")
        #expect(letters.first?["reason"] == "raw control character U+0001 in a string at byte 54", "\(letters)")
        #expect(letters.last?["reason"] == "\\u0000 in a key at byte 15", "\(letters)")
        #expect(try deployment.onHand(shop: "m").isEmpty, "neither job took effect")
    }

    /// A running daemon dead-letters a replayed bad job again, after the letters replay
    /// started with: `--all` replays the ones it found, once each, and ends.
    @Test func replayAllWithTheDaemonRunningReplaysEachLetterOnce() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let count = 100
        try deployment.producer.xaddMany(queue: "stock", payloads: (0..<count).map {
            #"{"id":"bad-\#($0)","type":"stock.adjust","data":{"shop_id":"b","sku":"a","delta":"four","at":"2026-11-28T12:00:00Z"}}"#
        })
        #expect(try eventually(timeout: .seconds(30)) { try deployment.deadLetters().count == count })
        let before = Set(try deployment.deadLetters().compactMap { $0["job_id"] })

        let replay = try Daemon.command(["dead", "replay", "--all"], environment: try deployment.environment(), timeout: .seconds(60))
        #expect(replay.status == 0, "\(replay.errors)")
        #expect(replay.output.split(separator: "\n").filter { $0.hasPrefix("replayed ") && $0.contains(" to ") }.count == count,
                "each letter replayed once: \(replay.output.split(separator: "\n").count) lines")
        #expect(replay.output.hasSuffix("replayed \(count) dead letters\n"), "\(replay.output.suffix(200))")

        #expect(try deployment.waitUntilDrained())
        let after = try deployment.deadLetters()
        #expect(after.count == count, "each bad job dead-lettered again once, got \(after.count)")
        #expect(Set(after.compactMap { $0["job_id"] }) == before)
    }

    /// The letter is deleted only once its job is on the queue: a queue key of the wrong
    /// type fails the replay and keeps the letter.
    @Test func aReplayThatCannotWriteTheQueueKeepsTheLetter() throws {
        let deployment = try Deployment()
        let env = try deployment.environment()
        let id = try deadLetter(deployment, queue: "orders", job: #"{"id":"o-1","type":"order.placed","data":{}}"#)
        try deployment.producer.run(["SET", "\(deployment.prefix):orders", "x"])

        let one = try Daemon.command(["dead", "replay", id], environment: env, timeout: .seconds(30))
        #expect(one.status == 70, "\(one.status) \(one.output) \(one.errors)")
        #expect(one.errors.contains("WRONGTYPE") && one.errors.contains("kept"), "\(one.errors)")
        let all = try Daemon.command(["dead", "replay", "--all"], environment: env, timeout: .seconds(30))
        #expect(all.status == 70, "\(all.status) \(all.output) \(all.errors)")
        #expect(try deployment.deadLetters().count == 1, "the letter is still in the dead stream")
        #expect(try deployment.producer.run(["TYPE", "\(deployment.prefix):orders"]) == "string")
    }

    /// `--job` is checked as `relais validate` checks a job, before anything is enqueued.
    @Test func aReplacementJobThatWouldBeRefusedIsNotEnqueued() throws {
        let deployment = try Deployment()
        let env = try deployment.environment()
        let id = try deadLetter(deployment, queue: "stock", job: badAdjust)
        for (replacement, says) in [("not json", "malformed_json"), (badAdjust, "data.delta"),
                                    (#"{"id":"r-1","id":"r-2","type":"stock.adjust","data":{}}"#, "malformed_json")] {
            let replay = try Daemon.command(["dead", "replay", id, "--job", replacement], environment: env, timeout: .seconds(30))
            #expect(replay.status == 65, "\(replacement): \(replay.status) \(replay.errors)")
            #expect(replay.errors.contains(says), "\(replacement): \(replay.errors)")
            #expect(try deployment.producer.run(["XLEN", "\(deployment.prefix):stock"]) == "0", "nothing enqueued")
            #expect(try deployment.deadLetters().count == 1, "the letter is kept")
        }
        let fixed = try Daemon.command(["dead", "replay", id, "--job", goodAdjust], environment: env, timeout: .seconds(30))
        #expect(fixed.status == 0, "\(fixed.errors)")
        #expect(try deployment.producer.run(["XLEN", "\(deployment.prefix):stock"]) == "1")
        #expect(try deployment.deadLetters().isEmpty)
    }
}
