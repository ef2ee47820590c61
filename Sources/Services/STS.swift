import AWSClient

/// AWS Security Token Service: only GetCallerIdentity (who am I, which account).
public struct STS: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public struct CallerIdentity: Sendable, Equatable {
        public var account: String
        public var arn: String
        public var userId: String
    }

    public func getCallerIdentity() async throws -> CallerIdentity {
        let xml = try await client.query(.sts, "GetCallerIdentity")
        guard let account = xml.value("Account"), let arn = xml.value("Arn") else {
            throw AWSClientError.malformedResponse(service: "sts", operation: "GetCallerIdentity", reason: "no Account or Arn")
        }
        return CallerIdentity(account: account, arn: arn, userId: xml.value("UserId") ?? "")
    }
}
