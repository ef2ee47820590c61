import Testing
@testable import AWSClient

struct PartitionTests {
    /// botocore's endpoints.json regionRegex decides; a region none matches counts as aws.
    @Test func partitionOfRegion() {
        let expected = ["us-east-1": "aws", "eu-central-2": "aws", "il-central-1": "aws", "cn-north-1": "aws-cn",
                        "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "us-iso-east-1": "aws-iso",
                        "us-isob-east-1": "aws-iso-b", "eu-isoe-west-1": "aws-iso-e", "us-isof-south-1": "aws-iso-f",
                        "eusc-de-east-1": "aws-eusc", "local": "aws", "cn-": "aws"]
        for (region, id) in expected { #expect(Partition.id(ofRegion: region) == id, "\(region)") }
    }

    @Test func onlyAwsIsSupported() throws {
        try Partition.requireSupported(region: "us-east-1")
        #expect(throws: UnsupportedPartitionError.self) { try Partition.requireSupported(region: "cn-north-1") }
        #expect(throws: UnsupportedPartitionError.self) {
            _ = try SessionOptions(region: "us-gov-west-1", environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"]).resolve()
        }
    }

    @Test func iamIsGlobalAndSignsForUsEast1() throws {
        let resolver = EndpointResolver(flag: nil, environment: [:], region: "eu-central-2")
        #expect(try resolver.resolve(.iam).endpoint.description == "https://iam.amazonaws.com")
        #expect(resolver.signingRegion(.iam) == "us-east-1")
        #expect(try resolver.resolve(.lambda).endpoint.description == "https://lambda.eu-central-2.amazonaws.com")
    }
}
