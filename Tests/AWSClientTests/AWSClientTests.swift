import Testing
import Transport
@testable import AWSClient
@testable import SigV4

struct JSONTests {
    @Test func roundTripAndEscapes() throws {
        let v = try JSON(parsing: #"{"a":[1,2.5,true,false,null],"s":"q\"\\\n\u00e9\ud83d\ude00","e":{}}"#)
        #expect(v["a"]?.array?.count == 5)
        #expect(v["s"]?.string == "q\"\\\né😀")
        #expect(try JSON(parsing: v.serialized()) == v)
    }

    @Test func rejectsBrokenInput() {
        for bad in ["", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"unterminated", "tru",
                    #""\ud800\u0041""#, #""\udc00""#, #""\ud800""#, #""\ud800\ud800""#] {
            #expect(throws: JSON.ParseError.self) { try JSON(parsing: bad) }
        }
    }
}

struct RedactionTests {
    @Test func truncatedJSONStillHidesSecrets() {
        let body = Array(#"{"AuthenticationResult":{"AccessToken":"eyJhbGciOi.secret.part","RefreshToken":"abc"#.utf8)
        let shown = Redaction.displayBody(body, contentType: "application/x-amz-json-1.1")
        #expect(!shown.contains("eyJhbGciOi") && !shown.contains("abc"))
        #expect(shown.contains(#""AccessToken":"***""#))
    }

    @Test func formAndHeaders() {
        #expect(Redaction.displayBody(Array("grant_type=refresh_token&refresh_token=r1&client_id=c".utf8),
                                      contentType: "application/x-www-form-urlencoded") == "grant_type=refresh_token&refresh_token=***&client_id=c")
        #expect(Redaction.displayHeader(name: "Authorization", value: "Bearer tok") == "Bearer ***")
        #expect(!Redaction.displayHeader(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=a/b, Signature=abcdef").contains("abcdef"))
    }
}

struct XMLTests {
    @Test func queryResponse() throws {
        let xml = try XMLNode(parsing: Array("""
            <?xml version="1.0"?>
            <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <GetCallerIdentityResult><Arn>arn:aws:iam::1:user/a&amp;b</Arn><Account>1</Account></GetCallerIdentityResult>
              <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
            </GetCallerIdentityResponse>
            """.utf8))
        #expect(xml.name == "GetCallerIdentityResponse")
        #expect(xml.value("Arn") == "arn:aws:iam::1:user/a&b")
        #expect(xml.value("RequestId") == "r-1")
    }

    @Test func rejectsAbsurdNesting() {
        let deep = String(repeating: "<a>", count: 5000) + String(repeating: "</a>", count: 5000)
        #expect(throws: XMLNode.ParseError.self) { try XMLNode(parsing: Array(deep.utf8)) }
    }

    @Test func rejectsMismatchedTags() {
        #expect(throws: XMLNode.ParseError.self) { try XMLNode(parsing: Array("<a><b></a>".utf8)) }
        #expect(throws: XMLNode.ParseError.self) { try XMLNode(parsing: Array("<html><body>502".utf8)) }
    }
}

struct ErrorDecodingTests {
    func response(_ status: Int, _ body: String, _ headers: [HTTPHeader] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }

    @Test func json11Type() {
        let e = AWSClient.decodeError(response(400, #"{"__type":"com.amazonaws#ResourceNotFoundException","message":"gone"}"#,
                                               [HTTPHeader("x-amzn-RequestId", "abc")]), service: .cognitoIdentityProvider, operation: "X")
        #expect(e.code == "ResourceNotFoundException" && e.message == "gone" && e.requestId == "abc")
        #expect(!e.isRetryable)
    }

    @Test func restJSONHeader() {
        let e = AWSClient.decodeError(response(404, #"{"Type":"User","Message":"Function not found"}"#,
                                               [HTTPHeader("X-Amzn-ErrorType", "ResourceNotFoundException:http://internal")]),
                                      service: .lambda, operation: "GetFunction")
        #expect(e.code == "ResourceNotFoundException" && e.message == "Function not found")
    }

    /// botocore and smithy-rs keep what follows '#' and precedes ':' in both places.
    @Test func suffixedAndNamespacedCodesAreSanitised() {
        let url = "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.coral.service/"
        let inBody = AWSClient.decodeError(response(400, #"{"__type":"\#(url)","message":"gone"}"#),
                                           service: .cognitoIdentityProvider, operation: "DescribeUserPool")
        #expect(inBody.code == "ResourceNotFoundException")
        let inHeader = AWSClient.decodeError(response(404, "{}", [HTTPHeader("x-amzn-ErrorType", "aws.protocols#ThrottlingException:http://x/")]),
                                             service: .lambda, operation: "GetFunction")
        #expect(inHeader.code == "ThrottlingException" && inHeader.isThrottling)
        #expect(AWSClient.sanitizeErrorCode("com.amazonaws.cognito#TooManyRequestsException:http://a#b") == "TooManyRequestsException")
    }

    @Test func queryXML() {
        let e = AWSClient.decodeError(response(400, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>q1</RequestId></ErrorResponse>"),
                                      service: .iam, operation: "CreateRole")
        #expect(e.code == "Throttling" && e.requestId == "q1" && e.isThrottling)
    }

    @Test func htmlGatewayPage() {
        let e = AWSClient.decodeError(response(502, "<html><body><h1>502 Bad Gateway</h1>", [HTTPHeader("Content-Type", "text/html")]),
                                      service: .lambda, operation: "CreateFunction")
        #expect(e.code == "BadGateway" && e.isTransient)
        #expect(e.description.contains("text/html"))
    }
}

struct ConfigTests {
    @Test func sharedFileProfiles() throws {
        let f = try SharedConfigFile(path: "c", kind: .config, text: """
            # comment
            [default]
            region = us-east-1
            [profile dev]
            region = eu-west-1 # inline
            s3 =
              max_concurrent_requests = 2
            [sso-session x]
            sso_region = us-east-1
            """)
        #expect(f.profiles["default"]?["region"] == "us-east-1")
        #expect(f.profiles["dev"]?["region"] == "eu-west-1")
        #expect(f.profiles["sso-session x"] == nil)
    }

    @Test func malformedLineNamed() {
        #expect(throws: AWSClientError.self) { try SharedConfigFile(path: "c", kind: .credentials, text: "[a]\nno equals\n") }
        #expect(throws: AWSClientError.self) { try SharedConfigFile(path: "c", kind: .credentials, text: "key = before section\n") }
    }

    @Test func endpoints() throws {
        #expect(Endpoint(parsing: "http://127.0.0.1:5000")?.hostHeader == "127.0.0.1:5000")
        #expect(Endpoint(parsing: "https://example.com:443/")?.hostHeader == "example.com")
        #expect(Endpoint(parsing: "http://[::1]:8080")?.hostHeader == "[::1]:8080")
        for bad in ["localhost:5000", "ftp://x", "http://", "http://x:0", "http://u@x", "http://x?y"] {
            #expect(Endpoint(parsing: bad) == nil, "\(bad)")
        }
        let r = EndpointResolver(flag: nil, environment: ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": "http://localhost:1",
                                                          "AWS_ENDPOINT_URL": "http://localhost:2"], region: "eu-west-1")
        #expect(try r.resolve(.cognitoIdentityProvider).endpoint.port == 1)
        #expect(try r.resolve(.lambda).endpoint.port == 2)
        let aws = EndpointResolver(flag: nil, environment: [:], region: "eu-west-1")
        #expect(try aws.resolve(.iam).endpoint.description == "https://iam.amazonaws.com")
        #expect(aws.signingRegion(.iam) == "us-east-1")
        #expect(try aws.resolve(.apiGatewayV2).endpoint.description == "https://apigateway.eu-west-1.amazonaws.com")
    }

    @Test func regionChainOrder() throws {
        #expect(try RegionChain.resolve(flag: nil, environment: ["AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"], shared: nil).region == "eu-west-1")
        #expect(try RegionChain.resolve(flag: "ap-south-1", environment: ["AWS_REGION": "eu-west-1"], shared: nil).source == "--region")
        #expect(throws: AWSClientError.self) { try RegionChain.resolve(flag: "Not A Region", environment: [:], shared: nil) }
    }
}

/// A transport that answers from a script, to test the retry policy in isolation (the
/// thing under test is the retry loop, not HTTP).
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    var answers: [Result<HTTPResponse, TransportError>]
    var calls = 0
    init(_ answers: [Result<HTTPResponse, TransportError>]) { self.answers = answers }
    func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse {
        calls += 1
        return try answers.removeFirst().get()
    }
}

struct RetryTests {
    func client(_ t: ScriptedTransport, attempts: Int = 3) -> AWSClient {
        AWSClient(config: AWSConfiguration(
            credentials: ResolvedCredentials(credentials: SigningCredentials(accessKeyId: "a", secretAccessKey: "b"), source: "test"),
            region: "us-east-1", regionSource: "test",
            endpoints: EndpointResolver(flag: "http://127.0.0.1:9", environment: [:], region: "us-east-1"),
            retry: RetryPolicy(maxAttempts: attempts, baseDelaySeconds: 0.001), transport: t))
    }

    let throttled = HTTPResponse(status: 400, headers: [], body: Array(#"{"__type":"ThrottlingException"}"#.utf8))
    let ok = HTTPResponse(status: 200, headers: [], body: Array("{}".utf8))

    @Test func retriesThrottlingThenSucceeds() async throws {
        let t = ScriptedTransport([.success(throttled), .success(throttled), .success(ok)])
        _ = try await client(t).json(.cognitoIdentityProvider, "ListUserPools", [:])
        #expect(t.calls == 3)
    }

    @Test func retriesSuffixedThrottling() async throws {
        let suffixed = HTTPResponse(status: 400, headers: [],
                                    body: Array(#"{"__type":"com.amazonaws#ThrottlingException:http://internal.amazon.com/coral/"}"#.utf8))
        let t = ScriptedTransport([.success(suffixed), .success(ok)])
        _ = try await client(t).json(.cognitoIdentityProvider, "CreateUserPool", [:], idempotent: false)
        #expect(t.calls == 2)
    }

    @Test func givesUpAfterMaxAttempts() async {
        let t = ScriptedTransport([.success(throttled), .success(throttled), .success(throttled), .success(ok)])
        await #expect(throws: AWSServiceError.self) { _ = try await client(t).json(.cognitoIdentityProvider, "ListUserPools", [:]) }
        #expect(t.calls == 3)
    }

    @Test func createIsNotRetriedAfterAResetButIsAfterRefusal() async {
        let reset = ScriptedTransport([.failure(.connection("reset")), .success(ok)])
        await #expect(throws: AWSClientError.self) {
            _ = try await client(reset).json(.cognitoIdentityProvider, "CreateUserPool", [:], idempotent: false)
        }
        #expect(reset.calls == 1)
        let refused = ScriptedTransport([.failure(.connectFailed("refused")), .success(ok)])
        _ = try? await client(refused).json(.cognitoIdentityProvider, "CreateUserPool", [:], idempotent: false)
        #expect(refused.calls == 2)
    }

    @Test func backoffIsCappedFullJitter() {
        let p = RetryPolicy(maxAttempts: 5)
        for attempt in 1...12 {
            let d = p.backoff(attempt: attempt)
            #expect(d >= 0 && d <= RetryPolicy.maxBackoffSeconds)
            #expect(d <= Double(1 << (attempt - 1)) + 1e-9)
        }
    }
}

/// Records the requests it is given and answers 200.
final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    var requests: [HTTPRequest] = []
    func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse {
        requests.append(request)
        return HTTPResponse(status: 200, headers: [HTTPHeader("ETag", "\"e\"")], body: [])
    }
}

struct S3AddressingTests {
    func send(_ resolver: EndpointResolver, key: String) async throws -> HTTPRequest? {
        let t = RecordingTransport()
        let client = AWSClient(config: AWSConfiguration(
            credentials: ResolvedCredentials(credentials: SigningCredentials(accessKeyId: "a", secretAccessKey: "b"), source: "test"),
            region: resolver.region, regionSource: "test", endpoints: resolver, transport: t))
        _ = try await client.s3("PutObject", method: "PUT", bucket: "team-state", key: key, body: Array("{}".utf8))
        return t.requests.first
    }

    @Test func virtualHostedOnAWSPathStyleOnACustomEndpoint() async throws {
        let aws = try await send(EndpointResolver(flag: nil, environment: [:], region: "eu-west-1"), key: "dir/a b+ü.json")
        #expect(aws?.url == "https://team-state.s3.eu-west-1.amazonaws.com/dir/a%20b%2B%C3%BC.json")
        #expect(aws?.headers.first { $0.name == "Host" }?.value == "team-state.s3.eu-west-1.amazonaws.com")
        let custom = try await send(EndpointResolver(flag: nil, environment: ["AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"],
                                                     region: "eu-west-1"), key: "dir/a b.json")
        #expect(custom?.url == "http://127.0.0.1:9000/team-state/dir/a%20b.json")
    }

    @Test func signsThePayloadHashForS3() async throws {
        let request = try await send(EndpointResolver(flag: nil, environment: [:], region: "eu-west-1"), key: "a b.json")
        let sha = request?.headers.first { $0.name == "x-amz-content-sha256" }?.value
        #expect(sha == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")  // SHA-256 of "{}"
        let auth = request?.headers.first { $0.name == "Authorization" }?.value ?? ""
        #expect(auth.contains("/eu-west-1/s3/aws4_request") && auth.contains("x-amz-content-sha256"))
    }
}
