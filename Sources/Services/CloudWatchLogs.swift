import AWSClient

/// Amazon CloudWatch Logs (JSON 1.1, `Logs_20140328.*`): the Lambda log group's teardown.
public struct CloudWatchLogs: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public func deleteLogGroup(name: String) async throws {
        _ = try await client.json(.logs, "DeleteLogGroup", ["logGroupName": .string(name)])
    }

    public func logGroupExists(name: String) async throws -> Bool {
        let out = try await client.json(.logs, "DescribeLogGroups", ["logGroupNamePrefix": .string(name)])
        return (out["logGroups"]?.array ?? []).contains { $0["logGroupName"]?.string == name }
    }
}
