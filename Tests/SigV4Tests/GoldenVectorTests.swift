import Testing
@testable import SigV4

/// Fixed-time vectors that live in the project, so the signer is tested even where AWS's
/// suite (../shared/aws-sigv4-test-suite) is absent.
///
/// The expected values were computed independently with botocore 1.43.11's
/// `botocore.auth.SigV4Auth(Credentials(AKID, SECRET, token), service, region).add_auth(AWSRequest(...))`,
/// with `botocore.auth.get_current_datetime` patched to 2026-01-02T03:04:05Z, the same headers
/// set on the AWSRequest as here (botocore adds X-Amz-Date and X-Amz-Security-Token itself), and
/// the `Authorization` header it produced copied below as a literal.
struct GoldenVectorTests {
    static let time = SigningTime(iso8601: "2026-01-02T03:04:05Z")
    static let akid = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var service: String
        var region: String
        var method: String
        var path: String
        var query: String?
        var headers: [(String, String)]
        var body: String = ""
        var token: String?
        var authorization: String
        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "GET with an unsorted query", service: "iam", region: "us-east-1", method: "GET", path: "/",
               query: "Version=2010-05-08&Action=ListUsers&MaxItems=10", headers: [("Host", "iam.amazonaws.com")],
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=bf9d0e0d5f46c05452813bf86234193010f2af0ef17baafdbb271815c3432486"),
        Vector(name: "POST with a form body", service: "sts", region: "eu-west-1", method: "POST", path: "/", query: nil,
               headers: [("Host", "sts.eu-west-1.amazonaws.com"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
               body: "Action=GetCallerIdentity&Version=2011-06-15",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=b87ee61678696c301b942d163db6c138bb8970c1f50b5998524a5508d8860576"),
        Vector(name: "headers with runs of spaces", service: "execute-api", region: "us-west-2", method: "GET", path: "/dev/hello", query: nil,
               headers: [("Host", "abc123.execute-api.us-west-2.amazonaws.com"), ("My-Header1", "  a   b    c  "), ("X-Custom", "one  two")],
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-west-2/execute-api/aws4_request, SignedHeaders=host;my-header1;x-amz-date;x-custom, Signature=65d58c00081793be8644d2e93fd9be3628aab9785a1cd1cba53b8e999ee7903b"),
        Vector(name: "session token", service: "lambda", region: "ap-south-1", method: "GET",
               path: "/2015-03-31/functions/EchoFunction", query: nil, headers: [("Host", "lambda.ap-south-1.amazonaws.com")],
               token: "IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=",
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/ap-south-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=6b266f628c1063fd95ba2aa4a9852f43b8605ef88d330ed863139a6e9860c77a"),
        Vector(name: "unreserved and escaped reserved characters in the path", service: "apigateway", region: "us-east-1", method: "GET",
               path: "/v2/apis/a-b_c.d~e/routes/%24default/x%20y%2Bz%3D%40", query: nil,
               headers: [("Host", "apigateway.us-east-1.amazonaws.com")],
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/apigateway/aws4_request, SignedHeaders=host;x-amz-date, Signature=26eaf24f4afca9abf989877c0c466453a61331cf023bb35008196ad6a6ca0f4b"),
        Vector(name: "JSON 1.1 POST", service: "cognito-idp", region: "eu-central-1", method: "POST", path: "/", query: nil,
               headers: [("Host", "cognito-idp.eu-central-1.amazonaws.com"), ("Content-Type", "application/x-amz-json-1.1"),
                         ("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools")],
               body: #"{"MaxResults":10}"#,
               authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-central-1/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=d2b44516f4ed0276003964ed6870463d13a7ad34ee642841b880a6fbb913daaf"),
    ]

    @Test(arguments: vectors)
    func matchesBotocore(_ v: Vector) throws {
        let time = try #require(Self.time)
        let signer = SigV4Signer(credentials: SigningCredentials(accessKeyId: Self.akid, secretAccessKey: Self.secret, sessionToken: v.token),
                                 region: v.region, service: v.service)
        let request = SigningRequest(method: v.method, path: v.path, query: v.query,
                                     headers: v.headers.map { HeaderField($0.0, $0.1) }, body: Array(v.body.utf8))
        let result = try signer.signHeaders(request, at: time)
        #expect(result.authorization == v.authorization)
        let added = Dictionary(uniqueKeysWithValues: result.addedHeaders.map { ($0.name.lowercased(), $0.value) })
        #expect(added["x-amz-date"] == "20260102T030405Z")
        #expect(added["x-amz-security-token"] == v.token)
        #expect(added["authorization"] == v.authorization)
    }
}
