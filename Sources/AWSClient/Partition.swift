/// An AWS partition: a group of regions with its own ARN prefix (`arn:<id>:`), DNS suffix and
/// global IAM endpoint (botocore's endpoints.json `partitions`).
///
/// secure-api supports the `aws` partition only. Its ARNs, service principals, managed policy
/// ARN, Cognito issuer and hosted-UI hosts are those of `aws`, and nothing here can test them
/// against aws-cn or aws-us-gov, so a region of another partition is refused before any call
/// rather than half-supported.
public struct Partition: Sendable, Equatable {
    public let id: String
    public let dnsSuffix: String
    /// IAM's one global endpoint, and the region its requests are signed for.
    public let iamHost: String
    public let iamSigningRegion: String

    public static let aws = Partition(id: "aws", dnsSuffix: "amazonaws.com", iamHost: "iam.amazonaws.com", iamSigningRegion: "us-east-1")

    /// The partition id of a region, by botocore's `regionRegex` of each partition; a region
    /// none of them matches (a local emulator's invention) counts as `aws`, as in botocore's
    /// endpoint resolution.
    public static func id(ofRegion region: String) -> String {
        // regionRegex is `^<prefix>\-\w+\-\d+$` for each partition but aws.
        let others: [(prefix: String, id: String)] = [
            ("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"),
            ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f"), ("eusc-de-", "aws-eusc"),
        ]
        for p in others where region.hasPrefix(p.prefix) {
            let rest = region.dropFirst(p.prefix.count).split(separator: "-", omittingEmptySubsequences: false)
            if rest.count == 2, !rest[0].isEmpty, !rest[1].isEmpty, rest[1].allSatisfy(\.isNumber),
               rest[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                return p.id
            }
        }
        return "aws"
    }

    /// The partition of a region, or an error naming it when it is not `aws`.
    public static func requireSupported(region: String) throws {
        let id = id(ofRegion: region)
        guard id == aws.id else { throw UnsupportedPartitionError(region: region, partition: id) }
    }
}

public struct UnsupportedPartitionError: Error, Sendable, CustomStringConvertible {
    public let region: String
    public let partition: String

    public var description: String {
        "region \(region) is in the \(partition) partition, which secure-api does not support (its ARNs, endpoints and managed policies differ): use a region of the aws partition"
    }
}
