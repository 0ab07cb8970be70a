import Foundation

/// Debian's chromium, headless, loading a page as an operator's browser would.
public enum Browser {
    /// The options every run needs: no sandbox (tests may run as root), no GPU, a
    /// throwaway profile.
    private static func options() -> [String] {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(TestServers.randomSuffix())").path
        return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                "--user-data-dir=\(profile)"]
    }

    /// The DOM chromium built from `url`, serialised after the page loaded.
    public static func dom(_ url: String) throws -> String {
        do {
            return try Command.run("chromium", options() + ["--dump-dom", url])
        } catch {
            throw TestSetupError("chromium could not load \(url) (scripts/servers install installs it): \(error)")
        }
    }

    /// Saves a screenshot of `url` as a PNG at `path`.
    public static func screenshot(_ url: String, to path: String, width: Int = 1280, height: Int = 1000) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Command.run("chromium", options() + ["--hide-scrollbars", "--window-size=\(width),\(height)", "--screenshot=\(path)", url])
    }

    /// Where tests save what a person may want to look at: $RELAIS_TEST_ARTIFACTS, or
    /// .build/test-artifacts next to this package.
    public static var artifacts: String {
        if let path = ProcessInfo.processInfo.environment["RELAIS_TEST_ARTIFACTS"] { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts").path
    }
}

/// What `scripts/sinks/page-facts` read from the status page's DOM.
public struct PageFacts: Decodable, Sendable {
    public struct QueueRow: Decodable, Sendable {
        public let state: String
        public let length: Int
        public let pending: Int
        public let retrying: Int
        public let consumers: Int
    }
    public struct DeadCount: Decodable, Sendable {
        public let queue: String
        public let code: String
        public let count: Int
    }
    public struct DeadRow: Decodable, Sendable {
        public let entry: String
        public let job: String
    }
    public struct OutboxRow: Decodable, Sendable {
        public let pending: Int
        public let due: Int
        public let failed: Int
    }
    public struct Form: Decodable, Sendable {
        public let action: String?
        public let method: String?
        public let csrf: Bool
        public let fields: [String]
    }
    public let title: String
    public let readOnly: Bool
    public let signInForm: Bool
    public let notice: String?
    public let readiness: String?
    public let queues: [String: QueueRow]
    public let deadTotal: Int
    public let deadByCode: [DeadCount]
    public let latestDead: [DeadRow]
    public let outbox: [String: OutboxRow]
    public let instances: [String: Int]
    public let checks: [String: String]
    public let forms: [Form]
    public let scripts: Int
    public let remote: [String]

    /// The page's actions: the targets of its forms other than signing in and out.
    public var actions: [String] { forms.compactMap(\.action).filter { $0.hasPrefix("/actions/") } }

    /// Reads `html` with `scripts/sinks/page-facts` (python3 with html5lib).
    public static func read(_ html: String) throws -> PageFacts {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/sinks/page-facts").path
        let output: String
        do {
            output = try Command.run("python3", [script], input: html)
        } catch {
            throw TestSetupError("scripts/sinks/page-facts failed (python3 on PATH needs html5lib: scripts/servers install): \(error)")
        }
        return try JSONDecoder().decode(PageFacts.self, from: Data(output.utf8))
    }
}
