import Foundation
import RelaisTestSupport
import Testing

/// The end-to-end tests' own helpers, against the real Redis: a wait that passes too early
/// makes every test after it read too soon.
@Suite("End-to-end helpers", .serialized)
struct DeploymentHelperTests {
    @Test func drainedMeansEveryQueueUnderThePrefixNotAListOfThem() throws {
        let deployment = try Deployment()
        let p = deployment.producer
        let key = { (name: String) in "\(deployment.prefix):\(name)" }
        #expect(try deployment.waitUntilDrained(timeout: .zero), "nothing enqueued: nothing to wait for")
        // Two queues as a daemon leaves them when idle: empty streams with their group.
        for queue in ["stock", "orders"] { try p.run(["XGROUP", "CREATE", key(queue), "relais", "$", "MKSTREAM"]) }
        #expect(try deployment.waitUntilDrained(timeout: .zero), "idle queues: nothing to wait for")

        try p.xadd(queue: "pickups", payload: "{}")
        #expect(try !deployment.waitUntilDrained(timeout: .zero), "an entry on the pickups queue is work left")
        try p.run(["DEL", key("pickups")])

        try p.run(["ZADD", key("quotes:retry"), "1", "x"])
        #expect(try !deployment.waitUntilDrained(timeout: .zero), "a retry due on any queue is work left")
        try p.run(["DEL", key("quotes:retry")])

        // An entry a consumer read and never acknowledged, even once deleted from the stream.
        let id = try p.xadd(queue: "stock", payload: "{}")
        try p.run(["XREADGROUP", "GROUP", "relais", "helper", "COUNT", "1", "STREAMS", key("stock"), ">"])
        try p.run(["XDEL", key("stock"), id])
        #expect(try p.run(["XLEN", key("stock")]) == "0")
        #expect(try deployment.pending("stock") == 1)
        #expect(try !deployment.waitUntilDrained(timeout: .zero), "an entry still pending is work left")
        try p.run(["XACK", key("stock"), "relais", id])

        try p.run(["XADD", key("dead"), "*", "job", "{}"])
        #expect(try deployment.waitUntilDrained(timeout: .zero), "dead letters are not work left")
    }
}
