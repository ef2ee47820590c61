import AWSClient
import Foundation

/// AWS Lambda (REST-JSON, API version 2015-03-31).
public struct Lambda: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    static func functionPath(_ name: String) -> String { "/2015-03-31/functions/\(AWSClient.escapePathSegment(name))" }

    public struct FunctionSpec: Sendable {
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
    }

    /// Returns the function ARN.
    public func createFunction(_ spec: FunctionSpec) async throws -> String {
        let out = try await client.rest(.lambda, "CreateFunction", method: "POST", path: "/2015-03-31/functions", body: [
            "FunctionName": .string(spec.name), "Runtime": .string(spec.runtime), "Handler": .string(spec.handler),
            "Role": .string(spec.roleArn), "Architectures": [.string(spec.architecture)],
            "Code": ["ZipFile": .string(Data(spec.zip).base64EncodedString())], "Tags": .stringMap(spec.tags),
            "Timeout": 10, "MemorySize": 128, "Environment": ["Variables": .stringMap(spec.environment)],
        ], idempotent: false)
        return try out.required("FunctionArn", "lambda", "CreateFunction")
    }

    /// The function ARN and tags, or a ResourceNotFoundException.
    public func getFunction(name: String) async throws -> (arn: String, tags: Tags) {
        let out = try await client.rest(.lambda, "GetFunction", method: "GET", path: Self.functionPath(name))
        let arn = try out.requiredObject("Configuration", "lambda", "GetFunction").required("FunctionArn", "lambda", "GetFunction")
        return (arn, (out["Tags"]?.object ?? [:]).compactMapValues(\.string))
    }

    public func deleteFunction(name: String) async throws {
        _ = try await client.rest(.lambda, "DeleteFunction", method: "DELETE", path: Self.functionPath(name))
    }

    public func addPermission(functionName: String, statementId: String, principal: String, sourceArn: String) async throws {
        _ = try await client.rest(.lambda, "AddPermission", method: "POST", path: Self.functionPath(functionName) + "/policy", body: [
            "StatementId": .string(statementId), "Action": "lambda:InvokeFunction", "Principal": .string(principal),
            "SourceArn": .string(sourceArn),
        ], idempotent: false)
    }

    /// Statement ids in the function's resource policy: empty when it has no policy, or when
    /// the function itself is gone (Lambda answers ResourceNotFoundException for both).
    public func policyStatementIds(functionName: String) async throws -> [String] {
        let out: JSON
        do {
            out = try await client.rest(.lambda, "GetPolicy", method: "GET", path: Self.functionPath(functionName) + "/policy")
        } catch let e as AWSServiceError where e.code == "ResourceNotFoundException" {
            return []
        }
        guard let text = out["Policy"]?.string, let policy = try? JSON(parsing: text) else { return [] }
        return (policy["Statement"]?.array ?? []).compactMap { $0["Sid"]?.string }
    }

    public func removePermission(functionName: String, statementId: String) async throws {
        _ = try await client.rest(.lambda, "RemovePermission", method: "DELETE",
                                  path: Self.functionPath(functionName) + "/policy/\(AWSClient.escapePathSegment(statementId))")
    }
}
