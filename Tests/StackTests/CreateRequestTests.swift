import Foundation
import Testing
@testable import AWSClient
import Services
import SigV4
@testable import Stack
import Transport

/// Records every request and answers each with a success carrying the IDs create reads back
/// (one answer per protocol: the fields of every create's response at once).
final class CannedCloud: HTTPTransport, @unchecked Sendable {
    // @unchecked: `sent` is read and written under `lock`.
    private let lock = NSLock()
    private var sent: [HTTPRequest] = []
    var requests: [HTTPRequest] { lock.withLock { sent } }

    static let json = #"{"UserPool":{"Id":"us-east-1_pool","Name":"p","Arn":"arn:pool"},"UserPoolClient":{"ClientId":"client"},"DomainDescription":{},"apiId":"api","apiEndpoint":"https://api","authorizerId":"auth","integrationId":"integ","routeId":"route","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}"#
    static let xml = "<CreateRoleResponse><CreateRoleResult><Role><Arn>arn:aws:iam::123456789012:role/r</Arn><RoleId>AROAEXAMPLE</RoleId></Role></CreateRoleResult></CreateRoleResponse>"

    func send(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws -> HTTPResponse {
        lock.withLock { sent.append(request) }
        let query = request.headers.contains { $0.name.lowercased() == "content-type" && $0.value.hasPrefix("application/x-www-form-urlencoded") }
        return HTTPResponse(status: 200, headers: [HTTPHeader("Content-Type", query ? "text/xml" : "application/json")],
                            body: Array((query ? Self.xml : Self.json).utf8))
    }
}

/// A write the cloud saw: its operation and parameters as sent on the wire.
struct SentCall: Equatable {
    var operation: String
    var method: String
    var path: String
    var body: JSON?
    var form: [String: String]

    init(_ r: HTTPRequest) {
        method = r.method
        let afterHost = r.url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        path = afterHost.count > 3 ? "/" + afterHost[3] : "/"
        let target = r.headers.first { $0.name.lowercased() == "x-amz-target" }?.value
        let text = String(decoding: r.body, as: UTF8.self)
        form = [:]
        body = nil
        if let target {
            operation = String(target.split(separator: ".").last ?? "")
            body = try? JSON(parsing: r.body)
        } else if text.contains("Action=") {
            for pair in text.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
                form[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            operation = form.removeValue(forKey: "Action") ?? ""
            form.removeValue(forKey: "Version")
        } else {
            operation = "\(method) \(path)"
            body = r.body.isEmpty ? nil : try? JSON(parsing: r.body)
        }
    }

    /// Reads (Describe/Get/List) are not part of a create's plan.
    var isWrite: Bool {
        method != "GET" && !["Describe", "Get", "List"].contains { operation.hasPrefix($0) }
    }
}

struct CreateRequestTests {
    static let config: StackConfig = {
        var c = StackConfig(domainPrefix: "abcdefghijklmnop", domainPrefixGenerated: false)
        c.oidcIssuer = "https://issuer.example.com/realms/x"
        c.oidcAudience = "account"
        return c
    }()

    /// A context whose dependencies all exist, over the canned cloud.
    func context(_ graph: StackGraph, _ cloud: CannedCloud, auth: AuthPattern) -> ResourceContext {
        var config = Self.config
        config.auth = auth
        let client = AWSClient(config: AWSConfiguration(
            credentials: ResolvedCredentials(credentials: SigningCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret"), source: "test"),
            region: "us-east-1", regionSource: "test", endpoints: EndpointResolver(flag: "http://127.0.0.1:9", environment: [:], region: "us-east-1"),
            retry: RetryPolicy(maxAttempts: 1), transport: cloud))
        var records: [NodeKey: ResourceRecord] = [:]
        for n in graph.nodes {
            records[n.key] = ResourceRecord(key: n.key, type: n.type, status: .created, id: "id-\(n.key)", name: n.key.rawValue,
                                            arn: "arn:aws:test:us-east-1:123456789012:\(n.key)")
        }
        return ResourceContext(services: StackServices(client: client), config: config,
                               target: StackTarget(region: "us-east-1", account: "123456789012", endpoint: nil, endpoints: [:]),
                               stackId: "sa-test", records: records, password: "Passw0rd!xyz", note: { _ in }, renamePending: { _ in })
    }

    /// For every kind of every pattern: the request values `plan` prints are, in order, exactly
    /// the writes `create` sends (operation, path members, body or form parameters), and
    /// create sends no write the plan does not show.
    @Test(arguments: AuthPattern.allCases)
    func planPrintsWhatCreateSends(auth: AuthPattern) async throws {
        let graph = StackGraph.forAuth(auth)
        for node in graph.topologicalOrder() {
            let cloud = CannedCloud()
            let ctx = context(graph, cloud, auth: auth)
            let planned = try node.createRequests(ctx)
            #expect(!planned.isEmpty || node.createdOnDemand, "\(node.key): no create call planned")
            _ = try await node.create(ctx)
            let writes = cloud.requests.map(SentCall.init).filter(\.isWrite)
            #expect(writes.count == planned.count, "\(node.key): create sent \(writes.map(\.operation)), plan shows \(planned.map(\.operation))")
            for (request, sent) in zip(planned, writes) {
                switch request {
                case let r as any JSONServiceRequest:
                    #expect(sent.body == r.body, "\(node.key) \(r.operation): sent \(sent.body?.serialized() ?? "-"), planned \(r.body.serialized())")
                    if sent.operation.contains(" ") {
                        #expect(sent.method == "POST")
                        for (_, value) in r.pathMembers { #expect(sent.path.contains(AWSClient.escapePathSegment(value)), "\(node.key): \(sent.path)") }
                    } else {
                        #expect(sent.operation == r.operation)
                    }
                case let r as any QueryServiceRequest:
                    #expect(sent.operation == r.operation)
                    #expect(sent.form == Dictionary(r.query, uniquingKeysWith: { a, _ in a }), "\(node.key) \(r.operation)")
                default:
                    Issue.record("\(node.key): a request of no known protocol")
                }
            }
        }
    }

    /// What the plan shows: a dependency not made yet as `<key>`, the zip as its size and hash,
    /// never the password.
    @Test func planSummarisesSecretsAndBlobs() throws {
        let steps = try StackGraph.cognito.firstCreateRequests(Self.config, region: "eu-west-1")
        let shown = steps.flatMap { step in step.requests.flatMap { r in r.parameters.map { "\(step.node.key) \(r.operation) \($0.0) = \($0.1)" } } }
        #expect(shown.contains("test_user AdminSetUserPassword Password = (secret: PASSWORD, not shown)"))
        #expect(shown.contains("route CreateRoute authorizerId = <authorizer>"))
        #expect(shown.contains("authorizer CreateAuthorizer jwtConfiguration.issuer = https://cognito-idp.eu-west-1.amazonaws.com/<user_pool>"))
        let zip = EchoFunctionCode.zip()
        #expect(shown.contains("lambda_function CreateFunction Code.ZipFile = zip of \(zip.count) bytes, sha256 \(FunctionPackage(zip: zip, handler: "").sha256)"))
        #expect(!shown.contains { $0.contains("UEsDB") }, "the zip's bytes (base64) are printed")
        #expect(steps.first { $0.node.key == "lambda_log_group" }?.requests.isEmpty == true)
    }
}
