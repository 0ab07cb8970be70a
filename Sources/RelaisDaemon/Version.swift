/// This build's version: `relais --version`, `relais_build_info` and the status page.
enum RelaisVersion {
    /// The release, raised with each change of the contract or the schema.
    static let current = "0.21.0"
}
