/// The advisory locks a transaction takes before it computes stock, all at once and in
/// one order, so that two transactions touching one SKU run their computing statements
/// one after the other and never deadlock.
///
/// Levels and adjustments of one SKU must not be computed side by side: a level adds
/// the adjustments made after it, and a transaction cannot see an adjustment another
/// one has not committed yet. Advisory locks do this without writing to the rows
/// (row locks wrote every locked tuple and its WAL, and needed the rows to exist), but
/// each one takes a slot of PostgreSQL's shared lock table, so their number is bounded
/// by taking coarser locks for big transactions:
///
/// - a row lock per SKU, with its shop locked shared;
/// - the shop locked exclusively when the transaction writes many of its SKUs or zeroes
///   the shop's unlisted SKUs (a complete snapshot);
/// - everything locked exclusively when the transaction spans very many shops.
///
/// Every transaction also takes the "everything" lock shared, so that the last case
/// excludes all the others.
public struct StockLocks: Sendable, Equatable {
    /// One lock: its scope, its name within the scope, and whether it is exclusive.
    public struct Lock: Sendable, Equatable {
        public enum Scope: Int32, Sendable, Comparable {
            case everything = 7236, shop = 7237, sku = 7238
            public static func < (a: Scope, b: Scope) -> Bool { a.rawValue < b.rawValue }
        }
        public let scope: Scope
        public let name: String
        public let exclusive: Bool

        public init(_ scope: Scope, _ name: String, exclusive: Bool) {
            self.scope = scope
            self.name = name
            self.exclusive = exclusive
        }
    }

    /// The locks to take, coarsest first.
    public let locks: [Lock]

    /// A shop with more SKUs than this in one transaction is locked whole.
    public static let skusPerShop = 64
    /// More SKU locks than this in one transaction: every shop is locked whole instead.
    public static let maxSkuLocks = 600
    /// More shops than this in one transaction: everything is locked instead.
    public static let maxShopLocks = 200

    /// The locks for writing `rows` (shop, SKU) and for zeroing the unlisted SKUs of `wholeShops`.
    public init(rows: [(shop: String, sku: String)], wholeShops: Set<String> = []) {
        // A shop's SKUs are counted only up to the point where it is locked whole: a
        // catalogue's thousand SKUs are not all hashed to learn that it has more than 64.
        var skusByShop: [ExactText: Set<ExactText>] = [:]
        for shop in wholeShops { skusByShop[ExactText(shop), default: []] = [] }
        func add(_ sku: String, to skus: inout Set<ExactText>) {
            if skus.count <= Self.skusPerShop { skus.insert(ExactText(sku)) }
        }
        // Rows come in runs of one shop: once a run's shop is locked whole, the rest of
        // the run is skipped without a look-up.
        var lockedWhole: ExactText?
        for row in rows {
            let shop = ExactText(row.shop)
            if shop == lockedWhole { continue }
            add(row.sku, to: &skusByShop[shop, default: []])
            lockedWhole = skusByShop[shop]!.count > Self.skusPerShop ? shop : nil
        }
        guard !skusByShop.isEmpty else {
            locks = []
            return
        }
        guard skusByShop.count <= Self.maxShopLocks else {
            locks = [Lock(.everything, "", exclusive: true)]
            return
        }
        let whole = Set(wholeShops.map { ExactText($0) })
        let rowLocks = skusByShop.reduce(0) { count, shop in
            whole.contains(shop.key) || shop.value.count > Self.skusPerShop ? count : count + shop.value.count
        }
        var locks = [Lock(.everything, "", exclusive: false)]
        var skus: [Lock] = []
        for (shop, shopSkus) in skusByShop.sorted(by: { $0.key < $1.key }) {
            if rowLocks > Self.maxSkuLocks || whole.contains(shop) || shopSkus.count > Self.skusPerShop {
                locks.append(Lock(.shop, shop.text, exclusive: true))
                continue
            }
            locks.append(Lock(.shop, shop.text, exclusive: false))
            for sku in shopSkus.sorted() {
                skus.append(Lock(.sku, shop.text + "/" + sku.text, exclusive: true))
            }
        }
        self.locks = locks + skus
    }
}
