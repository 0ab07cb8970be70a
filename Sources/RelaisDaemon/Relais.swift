import ArgumentParser
import Foundation
import Logging
import RelaisLogging
import SystemdClient

/// `relais`: the daemon and the operator's command line.
@main
struct Relais: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais",
        abstract: "Consumes order, stock and pickup jobs from Redis streams into PostgreSQL.",
        discussion: """
            Settings come from the environment (RELAIS_REDIS_URL, RELAIS_DATABASE_URL, \
            RELAIS_HTTP_ADDRESS, …); see docs/configuration.md. Exit statuses follow sysexits: \
            64 usage, 65 bad data, 69 a dependency is unavailable, 78 bad configuration.
            """,
        version: RelaisVersion.current,
        subcommands: [Serve.self, Migrate.self, Check.self, Enqueue.self, Validate.self, QueuesCommand.self, Dead.self,
                      Retries.self, Messages.self, JobCommand.self])
}

/// The exit statuses of sysexits.h that `relais` uses.
enum ExitStatus {
    static let usage = ExitCode(64)
    static let dataError = ExitCode(65)
    static let noInput = ExitCode(66)
    static let unavailable = ExitCode(69)
    static let software = ExitCode(70)
    static let config = ExitCode(78)
}

/// Loads the configuration or exits with the configuration status, naming the bad key.
///
/// Callable from the synchronous commands: the loading (a file read) runs as a task
/// while the calling thread, never one of the cooperative pool's, waits for it.
func loadConfiguration() throws -> RelaisConfiguration {
    let box = ResultBox()
    let done = DispatchSemaphore(value: 0)
    Task {
        do throws(ConfigurationError) {
            box.result = .success(try await RelaisConfiguration.load())
        } catch {
            box.result = .failure(error)
        }
        done.signal()
    }
    done.wait()
    switch box.result! {
    case .success(let configuration): return configuration
    case .failure(let error):
        StandardError.write("relais: \(error)\n")
        throw ExitStatus.config
    }
}

/// Loads the configuration from async code (`serve`), or exits with the configuration status.
func loadConfigurationAsync() async throws -> RelaisConfiguration {
    do {
        return try await RelaisConfiguration.load()
    } catch {
        StandardError.write("relais: \(error)\n")
        throw ExitStatus.config
    }
}

/// Carries a result from a task to the thread waiting on the semaphore.
private final class ResultBox: @unchecked Sendable {
    // @unchecked: written once by the task before `signal()`, read after `wait()`.
    var result: Result<RelaisConfiguration, ConfigurationError>?
}

/// Sets up logging at the configured level: structured journald entries when standard
/// error is the journal, logfmt lines on standard error otherwise.
func bootstrapLogging(level: Logger.Level) -> Logger {
    LogLevelControl.shared.current = level
    if JournaldLogHandler.standardErrorIsJournal() {
        let journal = SystemdJournal()
        LoggingSystem.bootstrap { _ in JournaldLogHandler(send: journal.send) }
    } else {
        LoggingSystem.bootstrap { _ in LogfmtLogHandler() }
    }
    return Logger(label: "relais")
}

/// Prints a failure for the operator and exits with `status`.
func fail(_ message: String, _ status: ExitCode) -> ExitCode {
    StandardError.write("relais: \(message)\n")
    return status
}

/// Runs a blocking call on a thread of its own and awaits its result, so that libpq
/// and hiredis never block Swift's cooperative threads.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
