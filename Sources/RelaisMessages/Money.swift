import RelaisDomain

/// Amounts of money as people read them in a message.
///
/// Written by hand rather than with Foundation's currency style: the French locale
/// groups with narrow no-break spaces and puts a no-break space before `€`, which
/// are not GSM-7 (an SMS would go out as UCS-2, at 70 characters a segment), and the
/// exact output varies with the ICU version. Integer cents, so no rounding ever.
public enum Money {
    /// `cents` euros: fr `"1 234,50 €"` (plain spaces), en `"€1,234.50"`.
    public static func format(cents: Int64, language: Language) -> String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = String(magnitude % 100)
        let fractionText = fraction.count == 1 ? "0" + fraction : fraction
        switch language {
        case .fr:
            return sign + grouped(magnitude / 100, separator: " ") + "," + fractionText + " €"
        case .en:
            return sign + "€" + grouped(magnitude / 100, separator: ",") + "." + fractionText
        }
    }

    /// The decimal digits of `units` in groups of three.
    private static func grouped(_ units: UInt64, separator: String) -> String {
        let digits = Array(String(units))
        var text = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { text += separator }
            text.append(digit)
        }
        return text
    }
}
