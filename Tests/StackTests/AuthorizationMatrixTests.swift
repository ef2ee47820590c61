import Testing
@testable import Stack

/// The statuses `verify` expects, from the configuration alone (the emulator runs in
/// tests/test_cli_dataplane.py check them against real answers).
struct AuthorizationMatrixTests {
    func config(_ auth: AuthPattern) -> StackConfig {
        var c = StackConfig(domainPrefix: "abcdefghijklmnop", domainPrefixGenerated: true)
        c.auth = auth
        return c
    }

    func table(_ auth: AuthPattern) -> [String: Int] {
        let c = config(auth)
        var out: [String: Int] = [:]
        for route in AuthorizationMatrix.routes(c) {
            for probe in AuthorizationMatrix.probes(auth) {
                out["\(route.key) \(probe.rawValue)"] = AuthorizationMatrix.expectation(probe, route: route, config: c).status
            }
        }
        return out
    }

    @Test func cognitoScopesDecide403Versus200() {
        let t = table(.cognito)
        #expect(t.count == 22)
        #expect(t["GET /hello no token"] == 401 && t["GET /hello garbage"] == 401 && t["GET /hello wrong issuer"] == 401)
        #expect(t["GET /hello ID token"] == 403 && t["GET /hello password-flow token"] == 403)
        #expect(t["GET /hello read-scope token"] == 200 && t["POST /hello read-scope token"] == 403)
        #expect(t["POST /hello write-scope token"] == 200 && t["POST /hello machine token"] == 200)
        #expect(t["GET /hello login token"] == 200 && t["POST /hello login token"] == 403)
    }

    @Test func theLambdaAuthorizerRefusesWith403ButAMissingHeaderWith401() {
        let t = table(.lambda)
        #expect(t["GET /hello no token"] == 401 && t["GET /hello garbage"] == 403 && t["GET /hello expired"] == 403)
        #expect(t["GET /hello ID token"] == 403 && t["GET /hello machine token"] == 200 && t["POST /hello read-scope token"] == 403)
    }

    @Test func oidcAndIAMRoutesNeedNoScope() {
        let oidc = table(.oidc)
        #expect(oidc["POST /hello issuer token"] == 200 && oidc["POST /hello another key"] == 401)
        #expect(table(.iam) == ["GET /hello signed": 200, "GET /hello unsigned": 403, "GET /hello wrong secret": 403,
                                "GET /hello wrong region": 403, "POST /hello signed": 200, "POST /hello unsigned": 403,
                                "POST /hello wrong secret": 403, "POST /hello wrong region": 403])
    }
}
