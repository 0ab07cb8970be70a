import CurlClient
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Which addresses webhooks may connect to: public (globally routable) ones, and the
/// networks the operator allows (`webhook_allow_networks`).
///
/// A shop's webhook URL comes from a producer's job, so without this rule Relais would
/// POST wherever a job says: to Redis or PostgreSQL on loopback, to the cloud metadata
/// service at 169.254.169.254, to the office network. The check runs on the address
/// libcurl is about to connect to (see `ConnectionFilter`), after resolution, so
/// `localhost`, `127.1`, `2130706433`, `[::ffff:127.0.0.1]` and names that resolve to
/// private addresses are all refused alike.
public struct WebhookAddressPolicy: Sendable, Equatable {
    /// Non-public networks webhooks may reach anyway (an internal shop system, a test sink).
    public var allowedNetworks: [IPNetwork]

    /// A policy allowing public addresses and `allowedNetworks`.
    public init(allowing allowedNetworks: [IPNetwork] = []) {
        self.allowedNetworks = allowedNetworks
    }

    /// Whether a webhook may connect to `address` (4 or 16 bytes, network order).
    public func permits(_ address: [UInt8]) -> Bool {
        let address = IPNetwork.unmapped(address)
        if allowedNetworks.contains(where: { $0.contains(address) }) { return true }
        return Self.isPublic(address)
    }

    /// The libcurl filter applying this policy.
    public var filter: ConnectionFilter {
        let policy = self
        return ConnectionFilter { policy.permits($0) }
    }

    /// Whether `address` is globally routable unicast, by the IANA special-purpose
    /// registries (RFC 6890 and successors). IPv4-mapped addresses must be unmapped first.
    static func isPublic(_ address: [UInt8]) -> Bool {
        switch address.count {
        case 4: return !nonPublicIPv4.contains { $0.contains(address) }
        case 16:
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 4 bytes.
            if nat64.contains(address) { return isPublic(Array(address[12...])) }
            // 6to4 (2002::/16) reaches the IPv4 address in bytes 2-5.
            if sixToFour.contains(address) { return isPublic(Array(address[2..<6])) }
            // Only global unicast (2000::/3) is public at all; within it, the special ranges are not.
            return globalUnicast.contains(address) && !nonPublicIPv6.contains { $0.contains(address) }
        default: return false
        }
    }

    private static let nonPublicIPv4: [IPNetwork] = [
        "0.0.0.0/8",        // this network, unspecified
        "10.0.0.0/8",       // private (RFC 1918)
        "100.64.0.0/10",    // shared address space (carrier-grade NAT)
        "127.0.0.0/8",      // loopback
        "169.254.0.0/16",   // link-local, cloud metadata services
        "172.16.0.0/12",    // private (RFC 1918)
        "192.0.0.0/24",     // IETF protocol assignments
        "192.0.2.0/24",     // documentation
        "192.88.99.0/24",   // 6to4 relay anycast
        "192.168.0.0/16",   // private (RFC 1918)
        "198.18.0.0/15",    // benchmarking
        "198.51.100.0/24",  // documentation
        "203.0.113.0/24",   // documentation
        "224.0.0.0/4",      // multicast
        "240.0.0.0/4",      // reserved, broadcast
    ].map { IPNetwork($0)! }

    private static let globalUnicast = IPNetwork("2000::/3")!
    private static let nat64 = IPNetwork("64:ff9b::/96")!
    private static let sixToFour = IPNetwork("2002::/16")!
    private static let nonPublicIPv6: [IPNetwork] = [
        "2001::/23",        // IETF protocol assignments (Teredo, ORCHID, benchmarking…)
        "2001:db8::/32",    // documentation
        "3fff::/20",        // documentation
    ].map { IPNetwork($0)! }
}

/// An IPv4 or IPv6 network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`,
/// or a single address such as `127.0.0.1`).
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// The network's address, 4 or 16 bytes, host bits cleared.
    public let address: [UInt8]
    /// How many leading bits are the network's.
    public let prefixLength: Int

    /// Parses `address` or `address/prefix`; nil if it is not one. IPv4-mapped IPv6
    /// networks (`::ffff:10.0.0.0/104`) are read as their IPv4 network.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var host = String(parts[0])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var bytes: [UInt8]
        if let v4 = Self.parse(host, family: AF_INET, size: 4) {
            bytes = v4
        } else if let v6 = Self.parse(host, family: AF_INET6, size: 16) {
            bytes = v6
        } else {
            return nil
        }
        var length = bytes.count * 8
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
                  let n = Int(parts[1]), n <= length else { return nil }
            length = n
        }
        if bytes.count == 16, Self.isMapped(bytes) {
            bytes = Array(bytes[12...])
            length = max(0, length - 96)
        }
        for bit in length..<(bytes.count * 8) { bytes[bit / 8] &= ~(UInt8(0x80) >> UInt8(bit % 8)) }
        address = bytes
        prefixLength = length
    }

    /// Whether `other` (4 or 16 bytes, unmapped) is in this network.
    public func contains(_ other: [UInt8]) -> Bool {
        guard other.count == address.count else { return false }
        var bits = prefixLength
        for index in address.indices where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if other[index] & mask != address[index] { return false }
            bits -= 8
        }
        return true
    }

    /// `address/prefix` in the usual notation (`10.0.0.0/8`, `fd00::/8`).
    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        address.withUnsafeBytes { raw in
            _ = inet_ntop(address.count == 4 ? AF_INET : AF_INET6, raw.baseAddress, &text, socklen_t(text.count))
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
    }

    /// `address` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address.
    static func unmapped(_ address: [UInt8]) -> [UInt8] {
        address.count == 16 && isMapped(address) ? Array(address[12...]) : address
    }

    private static func isMapped(_ bytes: [UInt8]) -> Bool {
        bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
    }

    /// `inet_pton`: the strict textual forms only (no `127.1`, no `2130706433`).
    private static func parse(_ text: String, family: Int32, size: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: size)
        let parsed = bytes.withUnsafeMutableBytes { raw in inet_pton(family, text, raw.baseAddress) }
        return parsed == 1 ? bytes : nil
    }
}

extension IPNetwork {
    /// Parses a list of networks separated by commas or blanks (`webhook_allow_networks`);
    /// the error names the first entry that is not a network.
    public static func list(_ text: String) -> Result<[IPNetwork], ListError> {
        var out: [IPNetwork] = []
        for entry in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" }) {
            guard let network = IPNetwork(String(entry)) else { return .failure(ListError(entry: String(entry))) }
            out.append(network)
        }
        return .success(out)
    }

    /// An entry of a list that is not a network.
    public struct ListError: Error, Sendable {
        /// The entry, as written.
        public let entry: String
    }
}
