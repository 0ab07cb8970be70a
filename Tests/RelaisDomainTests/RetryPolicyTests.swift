import RelaisDomain
import Testing

@Suite("Retry schedule")
struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 5, baseDelay: .seconds(1), maxDelay: .seconds(10), jitter: 0.5)

    @Test func delayDoublesWithEachAttempt() {
        #expect(policy.decide(afterAttempt: 1, random: 1) == .retry(after: .seconds(1)))
        #expect(policy.decide(afterAttempt: 2, random: 1) == .retry(after: .seconds(2)))
        #expect(policy.decide(afterAttempt: 3, random: 1) == .retry(after: .seconds(4)))
        #expect(policy.decide(afterAttempt: 4, random: 1) == .retry(after: .seconds(8)))
    }

    @Test func delayIsCappedAtTheMaximum() {
        let long = RetryPolicy(maxAttempts: 50, baseDelay: .seconds(1), maxDelay: .seconds(10), jitter: 0)
        #expect(long.decide(afterAttempt: 30, random: 0.3) == .retry(after: .seconds(10)))
    }

    @Test func jitterTakesAtMostItsShareOff() {
        #expect(policy.decide(afterAttempt: 3, random: 0) == .retry(after: .seconds(2)))
        #expect(policy.decide(afterAttempt: 3, random: 0.5) == .retry(after: .seconds(3)))
    }

    @Test func givesUpAfterTheLastAttempt() {
        #expect(policy.decide(afterAttempt: 5, random: 0.5) == .giveUp)
        #expect(RetryPolicy(maxAttempts: 1).decide(afterAttempt: 1, random: 0) == .giveUp)
    }
}
