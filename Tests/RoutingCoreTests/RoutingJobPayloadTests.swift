import Testing

@testable import RoutingCore

/// The routing queue's rate-limit keys: one budget per tenant (and dialer), never shared.
@Suite struct RoutingJobPayloadTests {
    @Test func tenantsWithTheSameDialerIdDoNotShareACallbackBudget() {
        let a = CallbackJob(tenant: "acme", callId: "c1", phone: "+15551230001", dialer: "zendesk")
        let b = CallbackJob(tenant: "globex", callId: "c1", phone: "+15551230001", dialer: "zendesk")
        #expect(a.queueKey != b.queueKey)
        #expect(a.queueKey.hasPrefix("callback:")) // the `callback` group's limit still applies to each
        #expect(a.uniqueKey != b.uniqueKey)
    }

    @Test func eachTenantsSMSAlertsHaveTheirOwnBudget() {
        let a = SMSAlertJob(tenant: "acme", callId: "c1", caller: "+15551230001", message: "m")
        let b = SMSAlertJob(tenant: "acme-eu", callId: "c1", caller: "+15551230001", message: "m")
        #expect(a.queueKey != b.queueKey)
        #expect(a.queueKey.hasPrefix("sms:"))
    }
}
