import Foundation

/// Enqueues the way a producer's shell script does: `redis-cli XADD`.
public struct RedisCliProducer: Sendable {
    /// The Redis URL, as redis-cli's `-u` takes it.
    public let url: String
    /// The key prefix, such as `relais`.
    public let prefix: String

    public init(url: String, prefix: String) {
        self.url = url
        self.prefix = prefix
    }

    /// `XADD <prefix>:<queue> * job <payload>`; returns the entry id.
    @discardableResult
    public func xadd(queue: String, payload: String) throws -> String {
        try run(["XADD", "\(prefix):\(queue)", "*", "job", payload])
    }

    /// Runs redis-cli with `arguments` and returns its trimmed output.
    @discardableResult
    public func run(_ arguments: [String]) throws -> String {
        try Command.run("redis-cli", ["-u", url] + arguments)
    }

    /// Adds many payloads with one redis-cli process (`--pipe` would need RESP; a script is clearer).
    public func xaddMany(queue: String, payloads: [String]) throws {
        var script = ""
        for payload in payloads {
            script += "XADD \(prefix):\(queue) * job \(quoteForRedisCli(payload))\n"
        }
        _ = try Command.run("redis-cli", ["-u", url], input: script)
    }

    private func quoteForRedisCli(_ text: String) -> String {
        var out = "\""
        for ch in text.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}

/// Runs a program and returns its standard output.
public enum Command {
    /// Runs `program` (looked up on PATH) and returns its trimmed standard output; throws on a non-zero exit.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String], input: String? = nil,
                           environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        // Feed standard input and drain standard error on threads of their own: a child
        // blocked writing a full pipe while this thread writes to a full one would never end.
        let writer = Thread {
            if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errorBox = DataBox()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errorBox.data = errors.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        let errorData = errorBox.data
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw CommandError(program: program, status: process.terminationStatus, output: text,
                               errors: String(decoding: errorData, as: UTF8.self))
        }
        return text
    }
}

/// Carries bytes from a reader thread to the waiting one.
private final class DataBox: @unchecked Sendable {
    // @unchecked: written by the reader before `signal()`, read after `wait()`.
    var data = Data()
}

/// A program exited with a failure status.
public struct CommandError: Error, CustomStringConvertible {
    public let program: String
    public let status: Int32
    public let output: String
    public let errors: String
    public var description: String { "\(program) exited with \(status): \(errors)\(output)" }
}
