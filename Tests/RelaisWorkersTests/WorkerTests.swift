import Foundation
import Synchronization
import Testing
@testable import RelaisWorkers

/// The worker-thread type without servers: stopping wakes sleepers at once, threads carry
/// their name and nice value, the backoff grows, is capped and resets.
@Suite struct StopSignalTests {
    /// Long enough that a sleeper not woken by `set()` would outlast every deadline below.
    static let hour: Duration = .seconds(3600)
    /// How long a test waits for a thread that should finish at once.
    static let deadline: Duration = .seconds(10)

    @Test func aSleeperOfAnHourReturnsOnceSet() {
        let slept = Mutex<Bool?>(nil)
        let thread = WorkerThread.start(name: "sleeper") { stop in
            let stopped = stop.sleep(Self.hour)
            slept.withLock { $0 = stopped }
        }
        #expect(!thread.waitUntilFinished(timeout: .milliseconds(50)), "the sleeper returned before it was stopped")
        #expect(thread.stopAndWait(timeout: Self.deadline), "the sleeper was still asleep after set()")
        #expect(slept.withLock { $0 } == true, "sleep did not say the signal was set")
    }

    @Test func everySleeperOnOneSignalWakes() {
        let stop = StopSignal()
        let threads = (1...4).map { n in
            WorkerThread.start(name: "sleeper-\(n)", stopSignal: stop) { stop in
                while !stop.isSet { stop.sleep(Self.hour) }
            }
        }
        stop.set()
        for thread in threads {
            #expect(thread.waitUntilFinished(timeout: Self.deadline), "\(thread.name) was still asleep after set()")
        }
    }

    @Test func sleepingOnASetSignalReturnsAtOnce() {
        let thread = WorkerThread.start(name: "late-sleeper") { stop in
            stop.set()
            stop.sleep(Self.hour)
            stop.sleep(until: .now + Self.hour)
        }
        #expect(thread.waitUntilFinished(timeout: Self.deadline), "a sleep on a signal already set did not return")
        #expect(thread.stopSignal.isSet)
    }

    @Test func aSleepRunsOutWhenNothingSetsTheSignal() {
        let stop = StopSignal()
        #expect(stop.sleep(.milliseconds(20)) == false)
        #expect(stop.sleep(until: .now - .seconds(1)) == false, "a deadline in the past returns at once")
        #expect(!stop.isSet)
        stop.set()
        stop.set()
        #expect(stop.isSet)
    }

    @Test func aWorkerThreadCarriesItsNameAndNiceValue() throws {
        let seen = Mutex<(name: String, nice: Int32)?>(nil)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        let before = getpriority(which, 0)
        let thread = WorkerThread.start(name: "relais-named", niceness: 3, stackSize: 1 << 20) { _ in
            let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            seen.withLock { $0 = (name.trimmingCharacters(in: .whitespacesAndNewlines), getpriority(which, 0)) }
        }
        try #require(thread.waitUntilFinished(timeout: Self.deadline))
        let observed = try #require(seen.withLock { $0 })
        #expect(observed.name == "relais-named")
        // The nice value is capped at 19; the test's own may already be high.
        #expect(observed.nice == min(before + 3, 19), "nice \(observed.nice), the test's thread has \(before)")
        #expect(getpriority(which, 0) == before, "the niceness leaked to the calling thread")
    }

    @Test func aLongNameIsCutToWhatLinuxKeeps() throws {
        let seen = Mutex<String?>(nil)
        let thread = WorkerThread.start(name: "a-name-longer-than-fifteen-bytes") { _ in
            let name = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = name?.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        try #require(thread.waitUntilFinished(timeout: Self.deadline))
        #expect(seen.withLock { $0 } == "a-name-longer-t")
    }
}

@Suite struct BackoffTests {
    @Test func growsFromTheInitialDelayUpToTheCap() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5), jitter: 0.25)
        let delays = (1...9).map { _ in backoff.next(random: 0) }
        #expect(delays == [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000].map { Duration.milliseconds($0) })
        #expect(backoff.failures == 9)
    }

    @Test func resetStartsAgainFromTheInitialDelay() {
        var backoff = Backoff()
        for _ in 1...5 { _ = backoff.next(random: 0) }
        backoff.reset()
        #expect(backoff.failures == 0)
        #expect(backoff.next(random: 0) == .milliseconds(100))
    }

    @Test func jitterTakesAtMostItsShareOff() {
        let backoff = Backoff(initial: .seconds(1), maximum: .seconds(8), jitter: 0.25)
        #expect(backoff.delay(afterFailures: 1, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 1, random: 1) == .milliseconds(750))
        #expect(backoff.delay(afterFailures: 4, random: 0.5) == .seconds(7))
        // Out-of-range randomness is clamped, never a negative or longer delay.
        #expect(backoff.delay(afterFailures: 2, random: -3) == .seconds(2))
        #expect(backoff.delay(afterFailures: 2, random: 42) == .milliseconds(1500))
        for _ in 0..<100 {
            var drawn = Backoff(initial: .seconds(1), maximum: .seconds(8), jitter: 0.25)
            let delay = drawn.next()
            #expect(delay >= .milliseconds(750) && delay <= .seconds(1))
        }
    }

    @Test func aLongOutageNeverOverflows() {
        let backoff = Backoff(initial: .seconds(3600), maximum: .seconds(86_400), jitter: 0)
        #expect(backoff.delay(afterFailures: Int.max, random: 0) == .seconds(86_400))
        #expect(backoff.delay(afterFailures: 0, random: 0) == .seconds(3600))
        #expect(backoff.delay(afterFailures: Int.min, random: 0) == .seconds(3600))
    }

    @Test func settingsOutOfRangeAreClamped() {
        let backoff = Backoff(initial: .seconds(2), maximum: .seconds(1), jitter: 7)
        #expect(backoff.maximum == .seconds(2), "a cap below the first delay is raised to it")
        #expect(backoff.jitter == 1)
    }

    @Test func theFirstFailureAndEverySixtiethAreLogged() {
        var backoff = Backoff()
        var logged: [Int] = []
        for n in 1...130 {
            _ = backoff.next(random: 0)
            if backoff.isWorthLogging { logged.append(n) }
        }
        #expect(logged == [1, 60, 120])
    }
}
