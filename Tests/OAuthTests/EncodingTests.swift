import Foundation
import Testing
@testable import OAuth

struct Base64URLTests {
    // RFC 4648 §10 vectors, unpadded.
    @Test func rfc4648Vectors() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test func urlAlphabetAndRoundTrips() {
        #expect(Base64URL.encode([0xfb, 0xff, 0xbf]) == "-_-_")  // '+' and '/' of base64 become '-' and '_'
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ length) }
            let encoded = Base64URL.encode(bytes)
            #expect(!encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
            #expect(Base64URL.decode(encoded) == bytes)
            // Foundation's standard base64 agrees once the alphabet and padding are mapped.
            let standard = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(Base64URL.decode(standard) == bytes, "padded form of length \(length)")
        }
    }

    @Test func rejectsInvalidInput() {
        for bad in ["Zm9v+", "Zm/v", "Zm 9v", "Zm9v!", "Z", "Zm9vY", "Zg=", "Z=g=", "Zg===", "Zh"] {
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
    }
}

struct PKCETests {
    // RFC 7636 Appendix B.
    @Test func rfc7636AppendixB() {
        #expect(PKCE.challengeS256(verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
            == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test func generatedVerifiersAreValidAndFresh() {
        let a = PKCE.generateVerifier(), b = PKCE.generateVerifier()
        #expect(a.count == 43 && a != b)
        #expect(PKCE.isValidVerifier(a))
        #expect(PKCE.generateVerifier(byteCount: 96).count == 128)
        #expect(PKCE.generateVerifier(byteCount: 1000).count == 128)  // clamped to the RFC's maximum
        #expect(!PKCE.isValidVerifier("short"))
        #expect(!PKCE.isValidVerifier(String(repeating: "a", count: 42) + "+"))
    }
}

struct AuthorizationRequestTests {
    @Test func authorizeURLIsEscapedPerRFC3986() throws {
        let request = AuthorizationRequest(
            authorizeURL: "https://d.auth.us-east-1.amazoncognito.com/oauth2/authorize", clientId: "abc",
            redirectURI: "http://localhost:8083/callback", scopes: ["openid", "profile", "HelloAPI/hello.read"],
            state: "s t&x=1", codeVerifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(request.url == "https://d.auth.us-east-1.amazoncognito.com/oauth2/authorize?response_type=code"
            + "&client_id=abc&redirect_uri=http%3A%2F%2Flocalhost%3A8083%2Fcallback"
            + "&scope=openid%20profile%20HelloAPI%2Fhello.read&state=s%20t%26x%3D1"
            + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
        // An independent decoder gets every value back.
        let items = try #require(URLComponents(string: request.url)?.queryItems)
        let values = Dictionary(uniqueKeysWithValues: items.map { ($0.name, $0.value ?? "") })
        #expect(values["redirect_uri"] == "http://localhost:8083/callback")
        #expect(values["scope"] == "openid profile HelloAPI/hello.read")
        #expect(values["state"] == "s t&x=1")
        var dumped = ""
        dump(request, to: &dumped)
        #expect(!request.description.contains(request.codeVerifier) && !dumped.contains(request.codeVerifier))
    }

    @Test func defaultsAreRandomAndCognitoURLs() {
        let a = AuthorizationRequest(authorizeURL: Cognito.authorizeURL(domainPrefix: "abc", region: "eu-west-1"),
                                     clientId: "c", redirectURI: "http://localhost:8083/callback", scopes: ["openid"])
        let b = AuthorizationRequest(authorizeURL: "x", clientId: "c", redirectURI: "r", scopes: [])
        #expect(a.state != b.state && a.codeVerifier != b.codeVerifier)
        #expect(a.url.hasPrefix("https://abc.auth.eu-west-1.amazoncognito.com/oauth2/authorize?response_type=code&"))
        #expect(Cognito.tokenURL(domainPrefix: "abc", region: "eu-west-1") == "https://abc.auth.eu-west-1.amazoncognito.com/oauth2/token")
    }

    @Test func formDecoding() {
        #expect(URLEncoding.formDecode("a+b%2Bc%2fd") == "a b+c/d")
        #expect(URLEncoding.formDecode("%zz") == nil)
        #expect(URLEncoding.formDecode("%ff") == nil)  // not UTF-8
        #expect(URLEncoding.formBody([("scope", "a b/c"), ("x", "é")]) == "scope=a+b%2Fc&x=%C3%A9")
    }
}
