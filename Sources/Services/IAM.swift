import AWSClient
import Foundation

/// AWS Identity and Access Management (Query protocol, global endpoint signed for us-east-1).
public struct IAM: Sendable {
    let client: AWSClient
    public init(client: AWSClient) { self.client = client }

    public struct Role: Sendable {
        public var arn: String
        /// The ID AWS never reuses: a role re-created under the same name gets a new one.
        public var roleId: String?
        public var tags: Tags
        /// The trust policy (IAM sends it URL-encoded; decoded here).
        public var assumeRolePolicy: String = ""
    }

    public struct CreateRoleRequest: QueryServiceRequest, Equatable {
        public var name: String
        public var assumeRolePolicy: String
        public var tags: Tags
        public init(name: String, assumeRolePolicy: String, tags: Tags) {
            self.name = name
            self.assumeRolePolicy = assumeRolePolicy
            self.tags = tags
        }
        public var service: AWSService { .iam }
        public var operation: String { "CreateRole" }
        public var query: [(String, String)] {
            var params: [(String, String)] = [("RoleName", name), ("AssumeRolePolicyDocument", assumeRolePolicy)]
            for (i, (k, v)) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
                params += [("Tags.member.\(i + 1).Key", k), ("Tags.member.\(i + 1).Value", v)]
            }
            return params
        }
    }

    /// Returns the new role (its tags as sent).
    public func createRole(_ r: CreateRoleRequest) async throws -> Role {
        let xml = try await client.query(.iam, r.operation, r.query, idempotent: false)
        guard let arn = xml.value("Arn") else {
            throw AWSClientError.malformedResponse(service: "iam", operation: "CreateRole", reason: "no Role Arn")
        }
        return Role(arn: arn, roleId: xml.value("RoleId"), tags: r.tags)
    }

    /// The role's ARN, ID and tags, or a NoSuchEntity error.
    public func getRole(name: String) async throws -> Role {
        let xml = try await client.query(.iam, "GetRole", [("RoleName", name)])
        guard let arn = xml.value("Arn") else {
            throw AWSClientError.malformedResponse(service: "iam", operation: "GetRole", reason: "no Role Arn")
        }
        var tags: Tags = [:]
        for member in xml.find("Tags")?.children ?? [] {
            if let k = member.value("Key") { tags[k] = member.value("Value") ?? "" }
        }
        let policy = xml.value("AssumeRolePolicyDocument").map { $0.removingPercentEncoding ?? $0 } ?? ""
        return Role(arn: arn, roleId: xml.value("RoleId"), tags: tags, assumeRolePolicy: policy)
    }

    public func updateAssumeRolePolicy(roleName: String, policy: String) async throws {
        _ = try await client.query(.iam, "UpdateAssumeRolePolicy", [("RoleName", roleName), ("PolicyDocument", policy)])
    }

    public func deleteRole(name: String) async throws {
        _ = try await client.query(.iam, "DeleteRole", [("RoleName", name)])
    }

    public struct AttachRolePolicyRequest: QueryServiceRequest, Equatable {
        public var roleName: String
        public var policyArn: String
        public init(roleName: String, policyArn: String) {
            self.roleName = roleName
            self.policyArn = policyArn
        }
        public var service: AWSService { .iam }
        public var operation: String { "AttachRolePolicy" }
        public var query: [(String, String)] { [("RoleName", roleName), ("PolicyArn", policyArn)] }
    }

    public func attachRolePolicy(_ r: AttachRolePolicyRequest) async throws {
        _ = try await client.query(.iam, r.operation, r.query)
    }

    public func detachRolePolicy(roleName: String, policyArn: String) async throws {
        _ = try await client.query(.iam, "DetachRolePolicy", [("RoleName", roleName), ("PolicyArn", policyArn)])
    }

    public func listAttachedRolePolicies(roleName: String) async throws -> [String] {
        try await pages("ListAttachedRolePolicies", roleName: roleName, list: "AttachedPolicies") { $0.value("PolicyArn") }
    }

    /// The names of the role's inline policies.
    public func listRolePolicies(roleName: String) async throws -> [String] {
        try await pages("ListRolePolicies", roleName: roleName, list: "PolicyNames") { $0.text }
    }

    public func deleteRolePolicy(roleName: String, policyName: String) async throws {
        _ = try await client.query(.iam, "DeleteRolePolicy", [("RoleName", roleName), ("PolicyName", policyName)])
    }

    /// Every page of a role's list (IAM pages by Marker while IsTruncated is true).
    private func pages(_ action: String, roleName: String, list: String, _ item: (XMLNode) -> String?) async throws -> [String] {
        var items: [String] = [], marker: String?
        repeat {
            let xml = try await client.query(.iam, action, [("RoleName", roleName)] + (marker.map { [("Marker", $0)] } ?? []))
            items += xml.find(list)?.children.compactMap(item) ?? []
            marker = xml.value("IsTruncated") == "true" ? xml.value("Marker") : nil
        } while marker != nil
        return items
    }
}
