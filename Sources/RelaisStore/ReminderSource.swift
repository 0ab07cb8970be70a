import RelaisDomain

/// A reminder the scheduler claimed, as the family it is about receives it.
struct DueReminder: Sendable, Equatable {
    /// The reminder's row.
    let id: Int64
    /// The order, appointment or quote it is about (`ReminderKind.subject` says which).
    let subjectId: String
    /// Which reminder.
    let kind: ReminderKind
    /// When it was due.
    let due: Timestamp
}

/// What to do with a due reminder.
enum ReminderDecision: Sendable, Equatable {
    /// Send these messages (a recipient with no channel still gets the log's).
    case send([OrderPlan.PlannedMessage])
    /// Do not send it: what it reminds of moved on, or it comes too late to help.
    case skip(String)
    /// Reached in quiet hours (after downtime): due again at their end.
    case postpone(Timestamp)
}

/// One family's reminders: it re-reads what each due reminder is about, in the
/// scheduler's transaction, and decides whether it still goes out.
protocol ReminderSource: AnyObject {
    /// One decision per reminder of `due`, in order, at `now`.
    func decide(_ due: [DueReminder], now: Timestamp) throws -> [ReminderDecision]
}
