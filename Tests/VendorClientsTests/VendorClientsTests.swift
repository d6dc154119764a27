import Foundation
import Testing

@testable import VendorClients

@Suite struct EmailClientTests {
    @Test func theDateHeaderIsRFC5322() {
        #expect(EmailClient.rfc5322Date(Date(timeIntervalSince1970: 784_111_777)) == "Sun, 06 Nov 1994 08:49:37 +0000")
        #expect(EmailClient.rfc5322Date(Date(timeIntervalSince1970: 951_782_400)) == "Tue, 29 Feb 2000 00:00:00 +0000")
    }

    @Test func theMessageHasItsHeadersAndCRLFLines() {
        let text = EmailClient.message(from: "a@x.example", to: ["b@x.example", "c@x.example"], subject: "Dialer\r\ndown",
                                       body: "line 1\n.line 2\n", date: Date(timeIntervalSince1970: 0), messageId: "m1@switchboard")
        #expect(text.hasPrefix("From: a@x.example\r\nTo: b@x.example, c@x.example\r\nSubject: Dialer  down\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.contains("Message-ID: <m1@switchboard>\r\n"))
        #expect(text.hasSuffix("\r\n\r\nline 1\r\n.line 2\r\n\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func credentialsAreUserColonPasswordOrNone() {
        #expect(EmailClient.login("none") == nil)
        #expect(EmailClient.login("") == nil)
        let login = EmailClient.login("alerts:s3cr:et\n")
        #expect(login?.user == "alerts" && login?.password == "s3cr:et")
        #expect(EmailClient.recipients(" a@x , ,b@y") == ["a@x", "b@y"])
    }
}

@Suite struct BrazeClientTests {
    @Test func exportedUsersKeepTextNumbersAndBooleans() throws {
        let line = #"{"external_id":"u1","phone":"+15551230001","custom_attributes":{"lead_owner":"alice","score":42,"ratio":0.5,"vip":true,"tags":["a"],"meta":{"k":1}}}"#
        let user = try JSONDecoder().decode(BrazeClient.User.self, from: Data(line.utf8))
        #expect(user.phone == "+15551230001")
        #expect(user.attributes == ["lead_owner": "alice", "score": "42", "ratio": "0.5", "vip": "1"])
    }

    @Test func aUserWithOddMembersStillDecodes() throws {
        let user = try JSONDecoder().decode(BrazeClient.User.self, from: Data(#"{"phone": 15551230001, "custom_attributes": "x"}"#.utf8))
        #expect(user.phone == nil)
        #expect(user.attributes.isEmpty)
    }

    @Test func trackBodiesUseBrazesNames() throws {
        let event = BrazeClient.Event(phone: "+1555", name: "switchboard_call", time: "t",
                                      properties: .init(outcome: "connected", callId: "c1", dialer: nil, agent: "a", durationSeconds: 30))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try encoder.encode(event), as: UTF8.self)
                == #"{"name":"switchboard_call","phone":"+1555","properties":{"agent":"a","call_id":"c1","duration_seconds":30,"outcome":"connected"},"time":"t"}"#)
        let update = BrazeClient.AttributeUpdate(phone: "+1555", lastCallOutcome: "connected", lastCallAt: "t")
        #expect(String(decoding: try encoder.encode(update), as: UTF8.self)
                == #"{"_update_existing_only":true,"last_call_at":"t","last_call_outcome":"connected","phone":"+1555"}"#)
    }
}
