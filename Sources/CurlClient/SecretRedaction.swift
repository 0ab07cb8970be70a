/// `text` with each secret replaced by `***` wherever it stands as a word of its own.
///
/// A secret that starts (ends) with a letter or digit only matches where no letter or
/// digit comes before (after) it: a one-letter password "p" blanks `user:p@host` but
/// leaves "port" alone. Every realistic leak (a URL's user info, a header, a JSON value)
/// has such boundaries. Empty secrets are ignored; longer ones are blanked first.
public func redacting(_ secrets: [String], in text: String) -> String {
    var text = text
    for secret in Set(secrets).filter({ !$0.isEmpty }).sorted(by: { $0.count > $1.count }) {
        let guardStart = secret.first.map(isWordCharacter) ?? false
        let guardEnd = secret.last.map(isWordCharacter) ?? false
        var result = ""
        var rest = text[...]
        while let range = rest.range(of: secret) {
            let before = range.lowerBound == rest.startIndex ? result.last : rest[rest.index(before: range.lowerBound)]
            let after = range.upperBound == rest.endIndex ? nil : rest[range.upperBound]
            let embedded = (guardStart && before.map(isWordCharacter) == true) || (guardEnd && after.map(isWordCharacter) == true)
            result += rest[..<range.lowerBound]
            result += embedded ? secret : "***"
            rest = rest[range.upperBound...]
        }
        text = result + rest
    }
    return text
}

private func isWordCharacter(_ character: Character) -> Bool { character.isLetter || character.isNumber }
