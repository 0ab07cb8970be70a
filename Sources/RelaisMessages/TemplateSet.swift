import Foundation
import Mustache
import RelaisDomain

/// A template file that cannot be used: it names the file and, when known, the line.
public struct TemplateError: Error, CustomStringConvertible, Sendable {
    /// The file, as found on disk (or the template's relative path when it was nowhere).
    public let file: String
    /// The line of the file the problem is on, when it is on one.
    public let line: Int?
    private let problem: Problem

    private enum Problem: Sendable {
        case missing
        case notUTF8
        case unreadable
        case noSubject
        case empty
        case syntax(String)
        case unknownFile
        case notAFolder
        case unknownTemplate
        case webhookChannel
    }

    private init(file: String, line: Int? = nil, _ problem: Problem) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    /// A required file is in neither folder.
    static func missing(_ file: String) -> TemplateError { .init(file: file, .missing) }
    /// The file is not UTF-8 text.
    static func notUTF8(_ file: String) -> TemplateError { .init(file: file, .notUTF8) }
    /// The file exists but cannot be read.
    static func unreadable(_ file: String) -> TemplateError { .init(file: file, .unreadable) }
    /// An e-mail file does not start with `Subject: …` and a blank line.
    static func noSubject(_ file: String) -> TemplateError { .init(file: file, line: 1, .noSubject) }
    /// The file (or an e-mail's body) has nothing but white space.
    static func empty(_ file: String) -> TemplateError { .init(file: file, .empty) }
    /// Mustache cannot compile the file.
    static func syntax(_ file: String, line: Int, _ what: String) -> TemplateError { .init(file: file, line: line, .syntax(what)) }
    /// A file of the override folder is not one of the set.
    static func unknownFile(_ file: String) -> TemplateError { .init(file: file, .unknownFile) }
    /// A template folder does not exist.
    static func notAFolder(_ file: String) -> TemplateError { .init(file: file, .notAFolder) }
    /// A message was asked for by a name the set does not have.
    static func unknownTemplate(_ file: String) -> TemplateError { .init(file: file, .unknownTemplate) }
    /// A message was asked for on the webhook channel.
    static func webhookChannel(_ template: String) -> TemplateError { .init(file: template, .webhookChannel) }

    /// The file, the line when known, and the problem in an operator's words.
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        switch problem {
        case .missing: return "\(place): template missing"
        case .notUTF8: return "\(place): not UTF-8 text"
        case .unreadable: return "\(place): cannot be read"
        case .noSubject: return "\(place): an e-mail template starts with a 'Subject: …' line, then a blank line"
        case .empty: return "\(place): template is empty"
        case .syntax(let what): return "\(place): \(what)"
        case .unknownFile:
            return "\(place): not a known template (expected <fr|en>/<name>.<email|sms|html>.mustache or <fr|en>/layout.html.mustache; shop messages are French only)"
        case .notAFolder: return "\(place): template folder not found"
        case .unknownTemplate: return "\(place): no such template"
        case .webhookChannel: return "\(place): webhooks carry a JSON event (WebhookEvent), not a rendered template"
        }
    }
}

/// Every message template, compiled: the shipped ones, with an operator's overrides on top.
///
/// Layout: `<lang>/<name>.email.mustache` (subject and text part), `<lang>/<name>.html.mustache`
/// (the HTML part's content), `<lang>/<name>.sms.mustache`, and one `<lang>/layout.html.mustache`
/// per language around every HTML part. Customer messages exist in French and English;
/// shop messages are French only (shops have no language in the contract), so
/// `en/<name>-shop.*` files are not part of the set.
public struct TemplateSet: Sendable {
    /// The relative paths of the templates that came from the override folder.
    public let overridden: [String]

    private let templates: [String: Compiled]

    /// One compiled template file.
    struct Compiled: Sendable {
        /// The file it came from.
        let file: String
        /// The e-mail subject line (after `Subject:`), nil for an SMS.
        let subject: MustacheTemplate?
        /// The e-mail body or the SMS text.
        let body: MustacheTemplate
    }

    /// Loads and compiles every template from `shipped`, with files in `overrides` (same
    /// layout) taking precedence; fails if any required template is missing in either
    /// language/channel or does not compile, or an email file lacks its Subject line.
    ///
    /// A file in `overrides` that is not one of the set is an error too: it is almost
    /// certainly a misspelt name, and the operator would wonder why it has no effect.
    public init(shipped: String, overrides: String?) throws(TemplateError) {
        let manager = FileManager.default
        for folder in [shipped] + (overrides.map { [$0] } ?? []) {
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw .notAFolder(folder)
            }
        }
        let required = Self.requiredPaths
        if let overrides, let found = manager.enumerator(atPath: overrides) {
            for case let path as String in found where path.hasSuffix(".mustache") && !required.contains(path) {
                throw .unknownFile(Self.join(overrides, path))
            }
        }
        var templates: [String: Compiled] = [:]
        var overridden: [String] = []
        for path in required.sorted() {
            let file: String
            if let overrides, manager.fileExists(atPath: Self.join(overrides, path)) {
                file = Self.join(overrides, path)
                overridden.append(path)
            } else if manager.fileExists(atPath: Self.join(shipped, path)) {
                file = Self.join(shipped, path)
            } else {
                throw .missing(Self.join(shipped, path))
            }
            templates[path] = try Self.compile(file: file, kind: Kind(path: path))
        }
        self.templates = templates
        self.overridden = overridden
    }

    /// The shipped templates folder when none is configured: first existing of
    /// <dir of the executable>/../share/relais/templates, /usr/local/share/relais/templates,
    /// /usr/share/relais/templates, then the source checkout's templates/ (derived from
    /// #filePath) for development runs.
    public static func locateShipped(executablePath: String) -> String? {
        let binFolder = URL(fileURLWithPath: executablePath).deletingLastPathComponent()
        let checkout = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [
            binFolder.appendingPathComponent("../share/relais/templates").standardizedFileURL.path,
            "/usr/local/share/relais/templates",
            "/usr/share/relais/templates",
            checkout.appendingPathComponent("templates").path,
        ]
        return candidates.first { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
        }
    }

    /// The template for a message, if the set has it.
    func template(_ name: String, language: Language, channel: Channel) -> Compiled? {
        templates[Self.path(name, language: language, channel: channel)]
    }

    /// The HTML part's content for a message and the layout around it, if the set has them.
    func html(_ name: String, language: Language) -> (content: Compiled, layout: Compiled)? {
        guard let content = templates[Self.htmlPath(name, language: language)],
              let layout = templates[Self.layoutPath(language: language)] else { return nil }
        return (content, layout)
    }

    /// The relative path of a template: `fr/order-placed-shop.email.mustache`.
    static func path(_ name: String, language: Language, channel: Channel) -> String {
        "\(language.rawValue)/\(name).\(channel.rawValue).mustache"
    }

    /// The relative path of an e-mail's HTML content: `fr/order-placed-shop.html.mustache`.
    static func htmlPath(_ name: String, language: Language) -> String {
        "\(language.rawValue)/\(name).html.mustache"
    }

    /// The relative path of a language's HTML layout: `fr/layout.html.mustache`.
    static func layoutPath(language: Language) -> String {
        "\(language.rawValue)/layout.html.mustache"
    }

    /// The language a recipient's messages are in: the customer's own, French for shops.
    static func language(for recipient: Recipient, customer: Language) -> Language {
        recipient == .shop ? .fr : customer
    }

    /// Every file the set needs.
    static var requiredPaths: Set<String> {
        var paths: Set<String> = []
        for template in MessageTemplate.allCases {
            for language in template.languages {
                for channel in [Channel.email, .sms] {
                    paths.insert(path(template.rawValue, language: language, channel: channel))
                }
                paths.insert(htmlPath(template.rawValue, language: language))
                paths.insert(layoutPath(language: language))
            }
        }
        return paths
    }

    private static func join(_ folder: String, _ path: String) -> String {
        folder.hasSuffix("/") ? folder + path : folder + "/" + path
    }

    /// What a template file holds, told by its name.
    enum Kind {
        /// Subject line, blank line, text part.
        case email
        /// An SMS's text.
        case sms
        /// HTML: an e-mail's HTML content or a layout; values are HTML-escaped.
        case html

        init(path: String) {
            self = path.hasSuffix(".email.mustache") ? .email : path.hasSuffix(".html.mustache") ? .html : .sms
        }
    }

    /// Reads and compiles one file; an e-mail file is split into its subject line and its body.
    private static func compile(file: String, kind: Kind) throws(TemplateError) -> Compiled {
        guard let data = FileManager.default.contents(atPath: file) else { throw .unreadable(file) }
        guard var text = String(data: data, encoding: .utf8) else { throw .notUTF8(file) }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        text = text.replacingOccurrences(of: "\r\n", with: "\n")
        guard kind == .email else {
            guard !text.allSatisfy(\.isWhitespace) else { throw .empty(file) }
            return Compiled(file: file, subject: nil, body: try parse(text, file: file, firstLine: 1, html: kind == .html))
        }
        let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0].hasPrefix("Subject:"), lines[1].allSatisfy(\.isWhitespace),
              !lines[0].dropFirst("Subject:".count).allSatisfy(\.isWhitespace)
        else { throw .noSubject(file) }
        let body = lines.count > 2 ? String(lines[2]) : ""
        guard !body.allSatisfy(\.isWhitespace) else { throw .empty(file) }
        let subjectText = String(lines[0].dropFirst("Subject:".count).drop { $0 == " " })
        return Compiled(file: file, subject: try parse(subjectText, file: file, firstLine: 1, html: false),
                        body: try parse(body, file: file, firstLine: 3, html: false))
    }

    /// Compiles template text that starts on `firstLine` of `file`.
    ///
    /// Text (subjects, text parts, SMS) gets the CONTENT_TYPE pragma that turns
    /// swift-mustache's HTML escaping off; it sits on a line of its own so that a section
    /// tag alone on the template's first line is still standalone. HTML keeps the
    /// escaping: `{{name}}` writes `&lt;` for `<`.
    private static func parse(_ text: String, file: String, firstLine: Int, html: Bool) throws(TemplateError) -> MustacheTemplate {
        let pragma = html ? "" : "{{% CONTENT_TYPE: TEXT }}\n"
        do {
            return try MustacheTemplate(string: pragma + text)
        } catch let error as MustacheTemplate.ParserError {
            throw .syntax(file, line: error.context.lineNumber - (html ? 1 : 2) + firstLine, explain(error.error))
        } catch {
            throw .syntax(file, line: firstLine, "\(error)")
        }
    }

    /// A parser error in an operator's words.
    private static func explain(_ error: any Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect?: return "a closing tag does not match the section it closes"
        case .unfinishedName?: return "a tag is not finished (a name, then }})"
        case .expectedSectionEnd?: return "a section is never closed ({{/name}} missing)"
        case .invalidSetDelimiter?: return "bad set-delimiter tag"
        case .invalidConfigVariableSyntax?, .unrecognisedConfigVariable?: return "bad {{% …}} pragma"
        default: return "\(error)"
        }
    }
}
