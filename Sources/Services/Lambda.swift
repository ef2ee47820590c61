import AWSClient
import Foundation

/// AWS Lambda (REST-JSON, API version 2015-03-31).
public struct Lambda: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    static func functionPath(_ name: String) -> String { "/2015-03-31/functions/\(AWSClient.escapePathSegment(name))" }

    /// CreateFunction: the zip is summarised by `plan` (its size and hash), never printed.
    public struct CreateFunctionRequest: JSONServiceRequest, Equatable {
        public var name: String
        public var runtime: String
        public var handler: String
        public var roleArn: String
        public var architecture: String
        public var zip: [UInt8]
        public var tags: Tags
        public var environment: [String: String]
        public init(name: String, runtime: String, handler: String, roleArn: String, architecture: String, zip: [UInt8], tags: Tags,
                    environment: [String: String] = [:]) {
            self.environment = environment
            self.name = name
            self.runtime = runtime
            self.handler = handler
            self.roleArn = roleArn
            self.architecture = architecture
            self.zip = zip
            self.tags = tags
        }
        public var service: AWSService { .lambda }
        public var operation: String { "CreateFunction" }
        public var body: JSON {
            ["FunctionName": .string(name), "Runtime": .string(runtime), "Handler": .string(handler),
             "Role": .string(roleArn), "Architectures": [.string(architecture)],
             "Code": ["ZipFile": .string(Data(zip).base64EncodedString())], "Tags": .stringMap(tags),
             "Timeout": 10, "MemorySize": 128, "Environment": ["Variables": .stringMap(environment)]]
        }
        public func summary(of member: String) -> String? { member == "Code.ZipFile" ? zipSummary(zip) : nil }
    }

    /// Returns the function ARN.
    public func createFunction(_ r: CreateFunctionRequest) async throws -> String {
        let out = try await client.rest(.lambda, r.operation, method: "POST", path: "/2015-03-31/functions", body: r.body, idempotent: false)
        return try out.required("FunctionArn", "lambda", r.operation)
    }

    /// A function as Lambda holds it.
    public struct Function: Sendable {
        public var arn: String
        public var tags: Tags
        public var runtime: String
        public var handler: String
        public var roleArn: String
        /// base64 of the package's SHA-256, as Lambda reports it.
        public var codeSha256: String
        public var architectures: [String]
        public var environment: [String: String]
        /// Pending/Active/Failed, and Successful/InProgress/Failed for the last update.
        public var state: String
        public var lastUpdateStatus: String
    }

    /// The function, or a ResourceNotFoundException.
    public func getFunction(name: String) async throws -> Function {
        let out = try await client.rest(.lambda, "GetFunction", method: "GET", path: Self.functionPath(name))
        let c = try out.requiredObject("Configuration", "lambda", "GetFunction")
        return Function(arn: try c.required("FunctionArn", "lambda", "GetFunction"), tags: (out["Tags"]?.object ?? [:]).compactMapValues(\.string),
                        runtime: c["Runtime"]?.string ?? "", handler: c["Handler"]?.string ?? "", roleArn: c["Role"]?.string ?? "",
                        codeSha256: c["CodeSha256"]?.string ?? "", architectures: (c["Architectures"]?.array ?? []).compactMap(\.string),
                        environment: (c["Environment"]?["Variables"]?.object ?? [:]).compactMapValues(\.string),
                        state: c["State"]?.string ?? "Active", lastUpdateStatus: c["LastUpdateStatus"]?.string ?? "Successful")
    }

    public func updateFunctionConfiguration(name: String, runtime: String, handler: String, roleArn: String,
                                            environment: [String: String]) async throws {
        _ = try await client.rest(.lambda, "UpdateFunctionConfiguration", method: "PUT", path: Self.functionPath(name) + "/configuration", body: [
            "Runtime": .string(runtime), "Handler": .string(handler), "Role": .string(roleArn),
            "Environment": ["Variables": .stringMap(environment)],
        ])
    }

    public func updateFunctionCode(name: String, zip: [UInt8], architecture: String) async throws {
        _ = try await client.rest(.lambda, "UpdateFunctionCode", method: "PUT", path: Self.functionPath(name) + "/code", body: [
            "ZipFile": .string(Data(zip).base64EncodedString()), "Architectures": [.string(architecture)],
        ])
    }

    public func deleteFunction(name: String) async throws {
        _ = try await client.rest(.lambda, "DeleteFunction", method: "DELETE", path: Self.functionPath(name))
    }

    /// Lets PRINCIPAL invoke the function, from SOURCEARN only.
    public struct AddPermissionRequest: JSONServiceRequest, Equatable {
        public var functionName: String
        public var statementId: String
        public var principal: String
        public var sourceArn: String
        public init(functionName: String, statementId: String, principal: String, sourceArn: String) {
            self.functionName = functionName
            self.statementId = statementId
            self.principal = principal
            self.sourceArn = sourceArn
        }
        public var service: AWSService { .lambda }
        public var operation: String { "AddPermission" }
        public var pathMembers: [(String, String)] { [("FunctionName", functionName)] }
        public var body: JSON {
            ["StatementId": .string(statementId), "Action": "lambda:InvokeFunction", "Principal": .string(principal), "SourceArn": .string(sourceArn)]
        }
    }

    public func addPermission(_ r: AddPermissionRequest) async throws {
        _ = try await client.rest(.lambda, r.operation, method: "POST", path: Self.functionPath(r.functionName) + "/policy", body: r.body,
                                  idempotent: false)
    }

    public struct PolicyStatement: Sendable {
        public var sid: String
        public var principal: String
        public var action: String
        public var sourceArn: String
    }

    /// The statements of the function's resource policy: empty when it has no policy, or when
    /// the function itself is gone (Lambda answers ResourceNotFoundException for both).
    public func policyStatements(functionName: String) async throws -> [PolicyStatement] {
        let out: JSON
        do {
            out = try await client.rest(.lambda, "GetPolicy", method: "GET", path: Self.functionPath(functionName) + "/policy")
        } catch let e as AWSServiceError where e.code == "ResourceNotFoundException" {
            return []
        }
        guard let text = out["Policy"]?.string, let policy = try? JSON(parsing: text) else { return [] }
        return (policy["Statement"]?.array ?? []).compactMap { st in
            guard let sid = st["Sid"]?.string else { return nil }
            let principal = st["Principal"]?["Service"]?.string ?? st["Principal"]?["AWS"]?.string ?? st["Principal"]?.string ?? ""
            return PolicyStatement(sid: sid, principal: principal, action: st["Action"]?.string ?? "",
                                   sourceArn: st["Condition"]?["ArnLike"]?["AWS:SourceArn"]?.string ?? "")
        }
    }

    public func policyStatementIds(functionName: String) async throws -> [String] {
        try await policyStatements(functionName: functionName).map(\.sid)
    }

    public func removePermission(functionName: String, statementId: String) async throws {
        _ = try await client.rest(.lambda, "RemovePermission", method: "DELETE",
                                  path: Self.functionPath(functionName) + "/policy/\(AWSClient.escapePathSegment(statementId))")
    }
}
