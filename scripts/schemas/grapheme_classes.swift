// Prints, as JSON, the Unicode scalars that change how Swift's String (and so
// EmailAddress.isValid and WebAddress.isValid, which work on Characters) sees the ASCII
// characters @ . / ? # : and whitespace. Run by scripts/order-schemas with the same
// toolchain as the daemon; the contract tests check the result against the daemon.
//
//   prepend:  a scalar that joins the next one into its Character ("\u{600}@" is one
//             Character, not "@")
//   extend:   a scalar that joins the previous one ("@\u{301}" is one Character)
//   whitespace_always: scalars whose Character is always whitespace
//   whitespace_after_non_prepend: whitespace only when not right after a prepend scalar
//   dot_search_blockers: a scalar that, right after a ".", hides it from
//             `Substring.contains(".")` (Foundation's string search, which EmailAddress.isValid uses
//             for "the domain has a dot": not the same set as extend)
import Foundation

func ranges(_ xs: [UInt32]) -> [[UInt32]] {
    var out: [[UInt32]] = []
    for x in xs {
        if let last = out.last, last[1] + 1 == x { out[out.count - 1][1] = x } else { out.append([x, x]) }
    }
    return out
}

var prepend: [UInt32] = [], extend: [UInt32] = [], always: [UInt32] = [], sometimes: [UInt32] = []
var problems: [String] = []
var dotBlockers: [UInt32] = []
for value in UInt32(0)...0x10FFFF {
    guard let scalar = Unicode.Scalar(value) else { continue }
    let s = String(scalar)
    let glued = ["@", ".", "/", "?", "#", ":", " "].map { (s + $0).count == 1 }
    if glued.allSatisfy({ $0 }) { prepend.append(value) } else if glued.contains(true) { problems.append("prepend \(value)") }
    let follows = ["@", ".", "/", "?", "#", ":", "h"].map { ($0 + s).count == 1 }
    if follows.allSatisfy({ $0 }) { extend.append(value) } else if follows.contains(true) { problems.append("extend \(value)") }
    if !("b." + s + "c")[...].contains(".") { dotBlockers.append(value) }
    if ("b" + s + ".c")[...].contains(".") == false { problems.append("dot search before \(value)") }
    if Character(s).isWhitespace {
        if ("a" + s).count == 1 { problems.append("whitespace joins \(value)") }
        if ("\u{600}" + s).count == 1 { sometimes.append(value) } else { always.append(value) }
    }
}
// Every prepend scalar hides the same whitespace.
for p in prepend {
    for w in always + sometimes where ((String(Unicode.Scalar(p)!) + String(Unicode.Scalar(w)!)).count == 1) != sometimes.contains(w) {
        problems.append("prepend \(p) whitespace \(w)")
    }
}
// A Character is whitespace when its first scalar is.
if !Character(" \u{301}").isWhitespace || Character("\u{600} ").isWhitespace { problems.append("Character.isWhitespace") }
guard problems.isEmpty else { fatalError("unexpected grapheme rules: \(problems.prefix(10))") }
print("{\"prepend\": \(ranges(prepend)), \"extend\": \(ranges(extend)), \"whitespace_always\": \(ranges(always)), \"whitespace_after_non_prepend\": \(ranges(sometimes)), \"dot_search_blockers\": \(ranges(dotBlockers))}")
