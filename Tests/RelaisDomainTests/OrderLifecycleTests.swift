import RelaisDomain
import Testing

@Suite("Order state machine")
struct OrderLifecycleTests {
    @Test func placingANewOrderReservesAndTellsBothSides() {
        #expect(OrderLifecycle.decide(.placed, current: nil) == .apply(.placed, [
            .reserve, .notify(.shop, template: .orderPlacedShop), .notify(.customer, template: .orderPlacedCustomer),
        ]))
    }

    @Test(arguments: [OrderEvent.confirmed, .ready, .collected, .cancelled(by: .shop), .expired])
    func eventForAnOrderNotPlacedYetIsRetried(event: OrderEvent) {
        guard case .retryLater = OrderLifecycle.decide(event, current: nil) else {
            Issue.record("\(event) on an unknown order should be retried")
            return
        }
    }

    @Test(arguments: [
        (OrderStatus.placed, OrderEvent.confirmed, OrderStatus.confirmed),
        (.placed, .ready, .ready),
        (.confirmed, .ready, .ready),
        (.ready, .collected, .collected),
        (.placed, .collected, .collected),
        (.placed, .cancelled(by: .customer), .cancelled),
        (.confirmed, .cancelled(by: .shop), .cancelled),
        (.ready, .cancelled(by: .platform), .cancelled),
        (.ready, .expired, .expired),
    ])
    func everyForwardTransitionIsApplied(from: OrderStatus, event: OrderEvent, to: OrderStatus) {
        guard case .apply(let status, _) = OrderLifecycle.decide(event, current: from) else {
            Issue.record("\(event) on a \(from) order was not applied")
            return
        }
        #expect(status == to)
    }

    @Test(arguments: [
        (OrderStatus.confirmed, OrderEvent.confirmed),
        (.ready, .confirmed),
        (.collected, .ready),
        (.placed, .placed),
        (.collected, .cancelled(by: .customer)),
        (.cancelled, .confirmed),
        (.expired, .collected),
        (.placed, .expired),
        (.confirmed, .expired),
        (.cancelled, .cancelled(by: .shop)),
    ])
    func duplicatesLateAndBackwardEventsChangeNothing(from: OrderStatus, event: OrderEvent) {
        guard case .ignore = OrderLifecycle.decide(event, current: from) else {
            Issue.record("\(event) on a \(from) order should be kept in history and change nothing")
            return
        }
    }

    @Test func collectionConsumesStockAndCancelsReminders() {
        #expect(OrderLifecycle.decide(.collected, current: .ready) == .apply(.collected, [.consume, .cancelReminders]))
    }

    @Test func cancellationTellsTheOtherSide() {
        #expect(OrderLifecycle.decide(.cancelled(by: .customer), current: .placed)
            == .apply(.cancelled, [.release, .cancelReminders, .notify(.shop, template: .orderCancelledShop)]))
        #expect(OrderLifecycle.decide(.cancelled(by: .shop), current: .placed)
            == .apply(.cancelled, [.release, .cancelReminders, .notify(.customer, template: .orderCancelledCustomer)]))
    }

    @Test func expiryReleasesAndTellsBothSides() {
        #expect(OrderLifecycle.decide(.expired, current: .ready) == .apply(.expired, [
            .release, .cancelReminders, .notify(.shop, template: .orderExpiredShop),
            .notify(.customer, template: .orderExpiredCustomer),
        ]))
    }

    @Test func onlyOpenOrdersHoldReservations() {
        #expect(OrderStatus.allCases.filter(\.isOpen) == [.placed, .confirmed, .ready])
    }
}
