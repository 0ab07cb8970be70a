import Foundation
import RelaisTestSupport

/// The queues of this build, as the binary lists them (`relais validate --families`): the
/// tests that look at every queue follow the families without a list of their own.
func familyQueues() throws -> [String] {
    let families = try Daemon.command(["validate", "--families"], environment: ProcessInfo.processInfo.environment)
    return families.output.split(separator: "\n").compactMap { line in
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object["queue"] as? String
    }
}
