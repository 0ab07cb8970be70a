import Configuration
import Foundation
import Logging
import PostgresClient
import SystemPackage
import RedisClient
import RelaisDelivery
import RelaisDomain
import RelaisQueue
import Yams

/// Everything `relais` can be told, with its default; validated in one place.
///
/// Each setting comes from the environment variable named in `Setting`; the
/// defaults suit a single instance next to local Redis and PostgreSQL.
struct RelaisConfiguration: Sendable {
    var redis: RedisEndpoint
    var databaseURL: String
    var httpHost: String
    var httpPort: Int
    /// How long an HTTP connection may stay idle (or take to send its request) before it is closed.
    var httpIdleTimeout: Duration
    /// The most HTTP connections open at once; more wait in the listen queue.
    var httpMaxConnections: Int
    var queue: QueueSettings
    var logLevel: Logger.Level
    var shutdownTimeout: Duration
    var ledgerRetention: String
    var delivery: DeliverySettings
    /// A folder of templates that replace the shipped ones, file by file.
    var templateOverrides: String?
    /// When pickup reminders are due.
    var reminders: ReminderRules
    /// The secret that lets an operator act from the status page; without it the page is read-only.
    var operatorToken: String? = nil

    /// The settings, their environment variables and defaults (documented in docs/configuration.md).
    enum Setting: String, CaseIterable {
        case redisURL = "RELAIS_REDIS_URL"
        case redisSentinels = "RELAIS_REDIS_SENTINELS"
        case redisSentinelMaster = "RELAIS_REDIS_SENTINEL_MASTER"
        case redisSentinelPassword = "RELAIS_REDIS_SENTINEL_PASSWORD"
        case databaseURL = "RELAIS_DATABASE_URL"
        case httpAddress = "RELAIS_HTTP_ADDRESS"
        case httpIdleTimeout = "RELAIS_HTTP_IDLE_TIMEOUT"
        case httpMaxConnections = "RELAIS_HTTP_MAX_CONNECTIONS"
        case prefix = "RELAIS_PREFIX"
        case instance = "RELAIS_INSTANCE"
        case batchSize = "RELAIS_BATCH_SIZE"
        case workers = "RELAIS_WORKERS"
        case maxAttempts = "RELAIS_MAX_ATTEMPTS"
        case retryBase = "RELAIS_RETRY_BASE"
        case retryMax = "RELAIS_RETRY_MAX"
        case claimIdle = "RELAIS_CLAIM_IDLE"
        case maxDeliveries = "RELAIS_MAX_DELIVERIES"
        case blockTimeout = "RELAIS_BLOCK_TIMEOUT"
        case logLevel = "RELAIS_LOG_LEVEL"
        case shutdownTimeout = "RELAIS_SHUTDOWN_TIMEOUT"
        case ledgerRetention = "RELAIS_LEDGER_RETENTION"
        case deadLetterMax = "RELAIS_DEAD_LETTER_MAX"
        case smtpURL = "RELAIS_SMTP_URL"
        case smtpFrom = "RELAIS_SMTP_FROM"
        case smtpRequireTLS = "RELAIS_SMTP_REQUIRE_TLS"
        case smtpAllowPlaintextAuth = "RELAIS_SMTP_ALLOW_PLAINTEXT_AUTH"
        case smtpCAFile = "RELAIS_SMTP_CA_FILE"
        case smsURL = "RELAIS_SMS_URL"
        case smsToken = "RELAIS_SMS_TOKEN"
        case webhookSecret = "RELAIS_WEBHOOK_SECRET"
        case webhookAllowNetworks = "RELAIS_WEBHOOK_ALLOW_NETWORKS"
        case templateDir = "RELAIS_TEMPLATE_DIR"
        case deliveryMaxAttempts = "RELAIS_DELIVERY_MAX_ATTEMPTS"
        case deliveryRetryBase = "RELAIS_DELIVERY_RETRY_BASE"
        case deliveryRetryMax = "RELAIS_DELIVERY_RETRY_MAX"
        case deliveryTimeout = "RELAIS_DELIVERY_TIMEOUT"
        case emailConnections = "RELAIS_EMAIL_CONNECTIONS"
        case smsConnections = "RELAIS_SMS_CONNECTIONS"
        case emailRate = "RELAIS_EMAIL_RATE"
        case smsRate = "RELAIS_SMS_RATE"
        case emailShopRate = "RELAIS_EMAIL_SHOP_RATE"
        case smsShopRate = "RELAIS_SMS_SHOP_RATE"
        case quietHours = "RELAIS_QUIET_HOURS"
        case reminderDelay = "RELAIS_REMINDER_DELAY"
        case reminderBeforeSlot = "RELAIS_REMINDER_BEFORE_SLOT"
        case reminderBeforeHoldEnd = "RELAIS_REMINDER_BEFORE_HOLD_END"
        case reminderBeforeQuoteEnd = "RELAIS_REMINDER_BEFORE_QUOTE_END"
        case operatorToken = "RELAIS_OPERATOR_TOKEN"

        /// Settings whose values are secrets: never printed, read from credentials first in docs.
        static let secrets: Set<Setting> = [.redisURL, .redisSentinelPassword, .databaseURL, .smtpURL, .smsToken, .webhookSecret, .operatorToken]

        var defaultValue: String {
            switch self {
            case .redisURL: "redis://127.0.0.1:6379/0"
            case .redisSentinels, .redisSentinelMaster, .redisSentinelPassword: ""
            case .databaseURL: "postgresql://relais@127.0.0.1:5432/relais"
            case .httpAddress: "127.0.0.1:9464"
            case .httpIdleTimeout: "30s"
            case .httpMaxConnections: "100"
            case .prefix: "relais"
            case .instance: ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "relais"
            case .batchSize: "500"
            case .workers: "4"
            case .maxAttempts: "8"
            case .retryBase: "1s"
            case .retryMax: "10m"
            case .claimIdle: "60s"
            case .maxDeliveries: "10"
            case .blockTimeout: "1s"
            case .logLevel: "info"
            case .shutdownTimeout: "20s"
            case .ledgerRetention: "30 days"
            case .deadLetterMax: "100000"
            case .smtpURL, .smtpFrom, .smtpCAFile, .smsURL, .smsToken, .webhookSecret, .templateDir, .operatorToken: ""
            case .webhookAllowNetworks: ""
            case .smtpRequireTLS, .smtpAllowPlaintextAuth: "false"
            case .deliveryMaxAttempts: "10"
            case .deliveryRetryBase: "30s"
            case .deliveryRetryMax: "1h"
            case .deliveryTimeout: "15s"
            case .emailConnections, .smsConnections: "4"
            case .emailRate, .smsRate, .emailShopRate, .smsShopRate: ""
            case .quietHours: "20:00-08:00"
            case .reminderDelay: "24h"
            case .reminderBeforeSlot: "1h"
            case .reminderBeforeHoldEnd: "24h"
            case .reminderBeforeQuoteEnd: "48h"
            }
        }
    }

    /// The key of a setting in the configuration file and under `$CREDENTIALS_DIRECTORY`:
    /// the variable's name without `RELAIS_`, in lower case (`RELAIS_BATCH_SIZE` → `batch_size`).
    static func key(_ setting: Setting) -> String { setting.rawValue.dropFirst("RELAIS_".count).lowercased() }

    /// Where each setting comes from, first match wins: the environment, then systemd
    /// credentials (`$CREDENTIALS_DIRECTORY/<key>`), then the YAML file named by
    /// `RELAIS_CONFIG` (default `/etc/relais/relais.yaml` when it exists), then the default.
    ///
    /// Each source is its own reader, so that an empty value (an empty credential file)
    /// falls through to the next source instead of hiding it.
    static func readers(_ environment: [String: String]) async throws(ConfigurationError) -> [ConfigReader] {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: environment,
                secretsSpecifier: .specific(Set(Setting.secrets.map(\.rawValue))))
                .prefixKeys(with: "relais")
        ]
        if let credentials = environment["CREDENTIALS_DIRECTORY"], !credentials.isEmpty {
            do {
                providers.append(try await DirectoryFilesProvider(directoryPath: FilePath(credentials), allowMissing: true))
            } catch {
                throw ConfigurationError(key: "CREDENTIALS_DIRECTORY", "cannot be read: \(error)")
            }
        }
        let explicit = environment["RELAIS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let path = explicit ?? defaultFile
        if explicit != nil || FileManager.default.fileExists(atPath: path) {
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
            } catch {
                throw ConfigurationError(key: "RELAIS_CONFIG", "file \(path) cannot be used: \(error)")
            }
            try refuseUnknownKeys(inFile: path)
        }
        return providers.map { ConfigReader(provider: $0) }
    }

    /// Refuses a configuration file with a key Relais does not know: a misspelt key
    /// (`shutdown_timout`) would otherwise leave its setting at the default unnoticed.
    static func refuseUnknownKeys(inFile path: String) throws(ConfigurationError) {
        let known = Set(Setting.allCases.map(key))
        let root: Node?
        do {
            root = try Yams.compose(yaml: try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw ConfigurationError(key: "RELAIS_CONFIG", "file \(path) cannot be read as YAML")
        }
        for (keyNode, _) in root?.mapping ?? [:] {
            // Only the name is shown: the line may hold a secret.
            let name = keyNode.scalar?.string ?? "(a key that is not text)"
            guard known.contains(name) else {
                throw ConfigurationError(key: "\(name.debugDescription) in \(path)", "is not a Relais setting (see docs/configuration.md)")
            }
        }
    }

    /// The configuration file read when `RELAIS_CONFIG` is not set.
    static let defaultFile = "/etc/relais/relais.yaml"

    /// Reads and validates the configuration; the error names the bad setting.
    static func load(_ environment: [String: String] = ProcessInfo.processInfo.environment) async throws(ConfigurationError) -> RelaisConfiguration {
        let sources = try await readers(environment)
        return try load(from: sources)
    }

    /// Validates the settings the sources give, first non-empty value wins; the error
    /// names the bad setting.
    static func load(from sources: [ConfigReader]) throws(ConfigurationError) -> RelaisConfiguration {
        func value(_ setting: Setting) -> String {
            let secret = Setting.secrets.contains(setting)
            for source in sources {
                let raw = source.string(forKey: ConfigKey(key(setting)), isSecret: secret)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                if !raw.isEmpty { return raw }
            }
            return setting.defaultValue
        }
        func integer(_ setting: Setting, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let n = Int(value(setting)), range.contains(n) else {
                throw ConfigurationError(setting, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \"\(value(setting))\"")
            }
            return n
        }
        func duration(_ setting: Setting, _ range: ClosedRange<Duration>) throws(ConfigurationError) -> Duration {
            guard let d = parseDuration(value(setting)), range.contains(d) else {
                throw ConfigurationError(setting, "must be a duration such as 500ms, 30s or 10m, from \(range.lowerBound) to \(range.upperBound), got \"\(value(setting))\"")
            }
            return d
        }

        var redis: RedisEndpoint
        do { redis = try RedisEndpoint(url: value(.redisURL)) } catch {
            throw ConfigurationError(.redisURL, error.reason)
        }
        redis.sentinels = try sentinels(list: value(.redisSentinels), master: value(.redisSentinelMaster),
                                        password: value(.redisSentinelPassword))
        let database = value(.databaseURL)
        if let problem = PgConnectionString.problem(database) {
            throw ConfigurationError(.databaseURL, "is not a valid PostgreSQL connection string (\(problem))")
        }
        let (host, port) = try parseAddress(value(.httpAddress))

        let prefix = value(.prefix)
        guard prefix.allSatisfy({ $0.isLetter || $0.isNumber || "_-.:".contains($0) }), prefix.count <= 100 else {
            throw ConfigurationError(.prefix, "must be letters, digits and _ - . : only")
        }
        let instance = value(.instance)
        guard instance.allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) }), instance.count <= 100 else {
            throw ConfigurationError(.instance, "must be letters, digits and _ - . only")
        }
        guard let level = Logger.Level(rawValue: value(.logLevel).lowercased()) else {
            throw ConfigurationError(.logLevel, "must be one of trace, debug, info, notice, warning, error, critical")
        }

        var queue = QueueSettings()
        queue.prefix = prefix
        queue.instance = instance
        queue.batchSize = try integer(.batchSize, 1...10_000)
        queue.workersPerQueue = try integer(.workers, 1...64)
        queue.blockTimeout = try duration(.blockTimeout, .milliseconds(10)...(.seconds(30)))
        queue.claimIdle = try duration(.claimIdle, .milliseconds(500)...(.seconds(86_400)))
        queue.maxDeliveries = try integer(.maxDeliveries, 1...1000)
        queue.deadLetterMaxLength = try integer(.deadLetterMax, 100...100_000_000)
        queue.retry = RetryPolicy(
            maxAttempts: try integer(.maxAttempts, 1...100),
            baseDelay: try duration(.retryBase, .milliseconds(1)...(.seconds(3600))),
            maxDelay: try duration(.retryMax, .milliseconds(1)...(.seconds(86_400))))
        guard queue.retry.baseDelay <= queue.retry.maxDelay else {
            throw ConfigurationError(.retryBase, "must not be longer than \(Setting.retryMax.rawValue)")
        }
        let retention = value(.ledgerRetention)
        guard retention.range(of: #"^[0-9]+ (day|days|hour|hours)$"#, options: .regularExpression) != nil else {
            throw ConfigurationError(.ledgerRetention, "must read like \"30 days\" or \"48 hours\"")
        }

        var delivery = DeliverySettings()
        delivery.timeout = try duration(.deliveryTimeout, .seconds(1)...(.seconds(300)))
        delivery.retry = RetryPolicy(
            maxAttempts: try integer(.deliveryMaxAttempts, 1...100),
            baseDelay: try duration(.deliveryRetryBase, .milliseconds(10)...(.seconds(86_400))),
            maxDelay: try duration(.deliveryRetryMax, .milliseconds(10)...(.seconds(7 * 86_400))))
        guard delivery.retry.baseDelay <= delivery.retry.maxDelay else {
            throw ConfigurationError(.deliveryRetryBase, "must not be longer than \(Setting.deliveryRetryMax.rawValue)")
        }
        func rate(_ setting: Setting) throws(ConfigurationError) -> Double? {
            let text = value(setting)
            guard !text.isEmpty else { return nil }
            guard let perSecond = parseRate(text) else {
                throw ConfigurationError(setting, "must be a number of messages per second, minute or hour, such as 20/s, 300/min or 1000/h (empty for no limit), got \"\(text)\"")
            }
            return perSecond
        }
        delivery.connections = [.email: try integer(.emailConnections, 1...64), .sms: try integer(.smsConnections, 1...64)]
        delivery.rates = [.email: try rate(.emailRate), .sms: try rate(.smsRate)].compactMapValues { $0 }
        delivery.shopRates = [.email: try rate(.emailShopRate), .sms: try rate(.smsShopRate)].compactMapValues { $0 }
        let smtpURL = value(.smtpURL)
        if !smtpURL.isEmpty {
            let from = value(.smtpFrom)
            guard Mailbox(parsing: from) != nil else {
                throw ConfigurationError(.smtpFrom, "must be the sender's ASCII e-mail address, alone or after a name (noreply@example.org or Mes commerçants <noreply@example.org>), when \(Setting.smtpURL.rawValue) is set")
            }
            guard let requireTLS = Bool(value(.smtpRequireTLS).lowercased()) else {
                throw ConfigurationError(.smtpRequireTLS, "must be true or false")
            }
            guard let allowPlaintextAuth = Bool(value(.smtpAllowPlaintextAuth).lowercased()) else {
                throw ConfigurationError(.smtpAllowPlaintextAuth, "must be true or false")
            }
            let caFile = value(.smtpCAFile)
            do {
                delivery.email = try SMTPSettings(url: smtpURL, from: from, requireTLS: requireTLS,
                                                  allowPlaintextAuth: allowPlaintextAuth,
                                                  caFile: caFile.isEmpty ? nil : caFile, timeout: delivery.timeout)
            } catch {
                throw ConfigurationError(.smtpURL, "\(error)")
            }
        }
        let smsURL = value(.smsURL)
        if !smsURL.isEmpty {
            guard WebAddress.isValid(smsURL) else { throw ConfigurationError(.smsURL, "must be an http or https URL") }
            // Without a token every SMS would fail at the gateway: refuse to start instead.
            let token = value(.smsToken)
            guard !token.isEmpty else {
                throw ConfigurationError(.smsToken, "must be set when \(Setting.smsURL.rawValue) is set (the gateway's bearer token)")
            }
            guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw ConfigurationError(.smsToken, "must be printable ASCII without spaces or line breaks")
            }
            delivery.sms = DeliverySettings.SMSGateway(url: smsURL, token: token)
        }
        let secret = value(.webhookSecret)
        if !secret.isEmpty {
            do { _ = try WebhookSigner(secret: secret) } catch {
                throw ConfigurationError(.webhookSecret, "must be a Standard Webhooks secret: base64, optionally prefixed whsec_")
            }
            delivery.webhookSecret = secret
        }
        switch IPNetwork.list(value(.webhookAllowNetworks)) {
        case .success(let networks): delivery.webhookAddresses = WebhookAddressPolicy(allowing: networks)
        case .failure(let error):
            throw ConfigurationError(.webhookAllowNetworks,
                                     "must list IP addresses or networks such as 10.1.2.0/24 or fd00::/8, separated by commas; \"\(error.entry)\" is not one")
        }
        let templates = value(.templateDir)
        var reminders = ReminderRules()
        guard let quiet = QuietHours(parsing: value(.quietHours)) else {
            throw ConfigurationError(.quietHours, "must read like 20:00-08:00 (shop time; equal times for none)")
        }
        reminders.quietHours = quiet
        reminders.uncollectedDelay = try duration(.reminderDelay, .seconds(1)...(.seconds(30 * 86_400)))
        reminders.soonBefore = try duration(.reminderBeforeSlot, .seconds(1)...(.seconds(86_400)))
        reminders.holdReminderBefore = try duration(.reminderBeforeHoldEnd, .seconds(1)...(.seconds(30 * 86_400)))
        reminders.quoteReminderBefore = try duration(.reminderBeforeQuoteEnd, .seconds(1)...(.seconds(90 * 86_400)))

        return RelaisConfiguration(
            redis: redis, databaseURL: database, httpHost: host, httpPort: port,
            httpIdleTimeout: try duration(.httpIdleTimeout, .milliseconds(100)...(.seconds(3600))),
            httpMaxConnections: try integer(.httpMaxConnections, 1...10_000), queue: queue, logLevel: level,
            shutdownTimeout: try duration(.shutdownTimeout, .seconds(1)...(.seconds(3600))), ledgerRetention: retention,
            delivery: delivery, templateOverrides: templates.isEmpty ? nil : templates, reminders: reminders,
            operatorToken: try operatorToken(value(.operatorToken)))
    }

    /// The sentinels to ask for the Redis master, or nil for a Redis at the URL's address.
    ///
    /// With sentinels, `RELAIS_REDIS_URL` still gives the master's user, password and
    /// database; its host and port are not used.
    private static func sentinels(list: String, master: String, password: String) throws(ConfigurationError) -> RedisSentinels? {
        guard !list.isEmpty else {
            if !master.isEmpty {
                throw ConfigurationError(.redisSentinels, "must list the sentinels (host:port, separated by commas) when \(Setting.redisSentinelMaster.rawValue) is set")
            }
            if !password.isEmpty {
                throw ConfigurationError(.redisSentinels, "must list the sentinels (host:port, separated by commas) when \(Setting.redisSentinelPassword.rawValue) is set")
            }
            return nil
        }
        guard !master.isEmpty else {
            throw ConfigurationError(.redisSentinelMaster, "must name the master the sentinels monitor (sentinel monitor <name> …) when \(Setting.redisSentinels.rawValue) is set")
        }
        do {
            return try RedisSentinels(list: list, masterName: master, password: password)
        } catch {
            let setting: Setting = error.reason.hasPrefix("the master name") ? .redisSentinelMaster : .redisSentinels
            throw ConfigurationError(setting, error.reason)
        }
    }

    /// The operator's token: at least 16 printable ASCII characters, or none.
    private static func operatorToken(_ token: String) throws(ConfigurationError) -> String? {
        guard !token.isEmpty else { return nil }
        guard token.count >= 16, token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ConfigurationError(.operatorToken, "must be at least 16 printable ASCII characters without spaces (try: openssl rand -hex 24)")
        }
        return token
    }

    private static func parseAddress(_ text: String) throws(ConfigurationError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigurationError(.httpAddress, "must be host:port, such as 127.0.0.1:9464")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ConfigurationError(.httpAddress, "must name a host, such as 127.0.0.1:9464") }
        return (host, port)
    }
}

/// Messages per second from `20/s`, `300/min`, `1000/h` or a bare number (per second);
/// nil unless it is above zero and at most a million a second.
func parseRate(_ text: String) -> Double? {
    let parts = text.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
    guard let count = Double(parts[0]), count.isFinite, parts[0].allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
    let seconds: Double
    switch parts.count == 2 ? parts[1] : "s" {
    case "s": seconds = 1
    case "min": seconds = 60
    case "h": seconds = 3600
    default: return nil
    }
    let perSecond = count / seconds
    return perSecond > 0 && perSecond <= 1_000_000 ? perSecond : nil
}

/// `500ms`, `30s`, `10m`, `2h`; a bare number is seconds. Nil for anything else,
/// including a value beyond `maximumDuration` (which no setting allows anyway).
func parseDuration(_ text: String) -> Duration? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    var number = Substring(text)
    var scale = 1.0
    if let (suffix, unit) = units.first(where: { text.hasSuffix($0.0) }) {
        number = text.dropLast(suffix.count)
        scale = unit
    }
    // Range-checked before the conversion: Int64(_:) traps on a Double out of its range.
    guard let n = Double(number), n >= 0, n.isFinite else { return nil }
    let milliseconds = (n * scale * 1000).rounded()
    guard milliseconds <= maximumDurationMilliseconds else { return nil }
    return .milliseconds(Int64(milliseconds))
}

/// The longest duration `parseDuration` reads: ten years, far beyond any setting's bound.
let maximumDurationMilliseconds = 10.0 * 366 * 86_400 * 1000

/// A setting with a value Relais cannot use; says which and why.
struct ConfigurationError: Error, CustomStringConvertible {
    let key: String
    let reason: String

    init(_ setting: RelaisConfiguration.Setting, _ reason: String) {
        key = "\(setting.rawValue) (\(RelaisConfiguration.key(setting)) in the configuration file)"
        self.reason = reason
    }

    init(key: String, _ reason: String) {
        self.key = key
        self.reason = reason
    }

    var description: String { "configuration: \(key) \(reason)" }
}
