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

    /// Whatever a stream entry claims, the arithmetic holds: no trap, a delay in range.
    @Test(arguments: [Int.min, Int.min + 1, -1, 0, 1, 4, 64, Int.max - 1, Int.max])
    func anyAttemptIsSafe(attempt: Int) {
        let long = RetryPolicy(maxAttempts: .max, baseDelay: .seconds(1), maxDelay: .seconds(600), jitter: 0.5)
        for random in [0, 0.5, 1, -1, 2, .nan, .infinity] as [Double] {
            let decision = long.decide(afterAttempt: attempt, random: random)
            guard attempt < long.maxAttempts else {
                #expect(decision == .giveUp)
                continue
            }
            guard case .retry(let delay) = decision else {
                Issue.record("attempt \(attempt) gave up below maxAttempts")
                continue
            }
            #expect(delay >= .zero && delay <= .seconds(600), "attempt \(attempt), random \(random): \(delay)")
        }
    }

    /// A stream entry's `attempt` field is clamped to what Relais counts.
    @Test func theAttemptFieldIsClampedToRelaisOwnCount() {
        func field(_ text: String?) -> Int { policy.attempt(fromField: text.map { Array($0.utf8) }) }
        #expect(field(nil) == 1)
        #expect(field("3") == 3)
        #expect(field("-9223372036854775808") == 1)
        #expect(field("9223372036854775807") == 5)
        #expect(field("99999999999999999999999") == 1, "not a number Relais could have written")
        #expect(field("0") == 1)
        #expect(field("2 ") == 1 && field("+2") == 1 && field("") == 1 && field("abc") == 1)
    }
}
