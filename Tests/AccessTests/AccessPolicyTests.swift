import Access
import Testing

/// The access policy, role by role: the table FR48–FR51 and "Customer Isolation" ask for.
@Suite struct AccessPolicyTests {
    let admin = Principal(userId: 1, name: "ana@acme", role: .admin, tenant: "acme", via: .session)
    let viewer = Principal(userId: 2, name: "vic@acme", role: .readOnly, tenant: "acme", via: .token, tokenId: "0123456789abcdef")
    let cs = Principal(userId: 3, name: "cs@us", role: .operator, tenant: nil, via: .session)

    func allowed(_ p: Principal, _ a: AccessAction, _ tenant: String?) -> Bool { AccessPolicy.decide(p, a, tenant: tenant) == .allowed }

    @Test func adminsReachEverythingOfTheirTenantButImportChanges() {
        for action in AccessAction.allCases where action != .importsChange { #expect(allowed(admin, action, "acme"), "\(action)") }
        #expect(!allowed(admin, .importsChange, "acme"))
    }

    @Test func noTenantUserReachesAnotherTenantOrEveryTenant() {
        for action in AccessAction.allCases where action.isTenantScoped {
            for user in [admin, viewer] {
                #expect(!allowed(user, action, "globex"), "\(user.role) \(action)")
                #expect(!allowed(user, action, nil), "\(user.role) \(action) on every tenant")
            }
        }
    }

    @Test func readOnlyUsersChangeNothing() {
        for action in AccessAction.allCases where action.isTenantScoped {
            #expect(allowed(viewer, action, "acme") == action.readsOnly, "\(action)")
        }
        #expect(allowed(viewer, .selfService, nil), "their own password and tokens")
        #expect(allowed(viewer, .tools, nil))
    }

    @Test func operatorsRunImportsOfEveryTenantAndNothingElse() {
        for tenant in ["acme", "globex", nil] {
            #expect(allowed(cs, .importsRead, tenant))
            #expect(allowed(cs, .importsChange, tenant))
        }
        for action in AccessAction.allCases where action.isTenantScoped && action != .importsRead && action != .importsChange {
            #expect(!allowed(cs, action, "acme"), "\(action)")
        }
    }

    @Test func theCLIMayDoAnythingAndIsNamedByItsLogin() {
        let cli = Principal.cli(login: "root")
        #expect(cli.name == "cli:root")
        for action in AccessAction.allCases { #expect(allowed(cli, action, "acme")) }
    }

    @Test func deniedDecisionsThrowForbiddenWithTheReason() {
        #expect(throws: AccessError.self) { try AccessPolicy.require(viewer, .rulesChange, tenant: "acme") }
        do { try AccessPolicy.require(viewer, .rulesChange, tenant: "acme") } catch let e as AccessError {
            #expect(e.code == .forbidden)
            #expect(e.message.contains("read-only"))
        } catch { Issue.record("\(error)") }
    }

    @Test func tokensNeverOutrankTheirUser() throws {
        #expect(Role.admin.mayGrant(.readOnly))
        #expect(Role.admin.mayGrant(.admin))
        #expect(!Role.readOnly.mayGrant(.admin))
        #expect(!Role.admin.mayGrant(.operator))
        #expect(!Role.operator.mayGrant(.admin))
        #expect(throws: AccessError.self) { try Role.parse("root") }
        #expect(try Role.parse("read-only") == .readOnly)
    }
}
