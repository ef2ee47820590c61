import AWSClient
import Crypto
import Foundation
import Transport

/// Amazon S3: the few object and bucket calls a remote state needs (REST-XML).
public struct S3: Sendable {
    let base: AWSClient
    /// The bucket's region once S3 named another than the client's (shared by copies).
    private let redirected = RegionMemo()

    public init(client: AWSClient) { base = client }

    /// The region requests are signed for.
    public var region: String { redirected.region ?? base.config.region }

    /// The client for the current region: the configured one, or the one S3 redirected to.
    var client: AWSClient {
        guard let region = redirected.region else { return base }
        var config = base.config
        config.region = region
        config.endpoints.region = region
        return AWSClient(config: config)
    }

    /// One S3 call; a bucket in another region than the one signed for is followed, as the AWS
    /// SDKs do: S3 answers 301 PermanentRedirect (or 400 AuthorizationHeaderMalformed) naming
    /// the bucket's region without acting, so the call is signed for that one and sent again.
    func send(_ operation: String, method: String, bucket: String, key: String = "", query: [(String, String)] = [],
              headers: [HTTPHeader] = [], body: [UInt8] = [], idempotent: Bool = true) async throws -> HTTPResponse {
        do {
            return try await client.s3(operation, method: method, bucket: bucket, key: key, query: query, headers: headers, body: body,
                                       idempotent: idempotent)
        } catch let e as AWSServiceError where ["PermanentRedirect", "AuthorizationHeaderMalformed"].contains(e.code) || e.httpStatus == 301 {
            guard let region = e.bucketRegion, region != self.region, region.range(of: #"^[a-z]{2}(-[a-z]+)+-\d$"#, options: .regularExpression) != nil
            else { throw e }
            base.config.log?("↪ s3 \(operation): bucket \(bucket) is in \(region): signing for it from now on")
            redirected.region = region
            return try await client.s3(operation, method: method, bucket: bucket, key: key, query: query, headers: headers, body: body,
                                       idempotent: idempotent)
        }
    }

    public struct Object: Sendable, Equatable {
        public var body: [UInt8]
        public var etag: String
    }

    /// A precondition on a write: `If-Match` an ETag, or `If-None-Match: *` (only if absent).
    public enum Condition: Sendable, Equatable {
        case ifMatch(String)
        case ifAbsent
    }

    /// The object, or nil when there is none (404).
    public func getObject(bucket: String, key: String) async throws -> Object? {
        do {
            let r = try await send("GetObject", method: "GET", bucket: bucket, key: key)
            return Object(body: r.body, etag: r.header("ETag") ?? "")
        } catch let e as AWSServiceError where e.httpStatus == 404 && e.code == "NoSuchKey" {
            return nil  // only "no such key" means no state: another 404 (a wrong endpoint or path) is an error
        }
    }

    /// Writes with server-side encryption requested and the condition given; answers the new ETag.
    /// A failed condition is thrown as an `AWSServiceError` with HTTP 412 (held or changed) or
    /// 409 (`ConditionalRequestConflict`: a concurrent conditional write, retry).
    public func putObject(bucket: String, key: String, body: [UInt8], contentType: String = "application/json",
                          condition: Condition?) async throws -> String {
        var headers = [HTTPHeader("Content-Type", contentType), HTTPHeader("x-amz-server-side-encryption", "AES256")]
        switch condition {
        case .ifMatch(let etag): headers.append(HTTPHeader("If-Match", etag))
        case .ifAbsent: headers.append(HTTPHeader("If-None-Match", "*"))
        case nil: break
        }
        let r = try await send("PutObject", method: "PUT", bucket: bucket, key: key, headers: headers, body: body)
        guard let etag = r.header("ETag"), !etag.isEmpty else {
            throw AWSClientError.malformedResponse(service: "s3", operation: "PutObject", reason: "no ETag")
        }
        return etag
    }

    /// Deletes, only while the object still has `etag` when one is given (412 when not).
    public func deleteObject(bucket: String, key: String, ifMatch etag: String? = nil) async throws {
        let headers = etag.map { [HTTPHeader("If-Match", $0)] } ?? []
        _ = try await send("DeleteObject", method: "DELETE", bucket: bucket, key: key, headers: headers)
    }

    // MARK: - Buckets

    /// Whether the bucket exists (HeadBucket: 200 ours or readable, 403 someone else's, 404 none).
    public func bucketExists(_ bucket: String) async throws -> Bool {
        do {
            _ = try await send("HeadBucket", method: "HEAD", bucket: bucket)
            return true
        } catch let e as AWSServiceError where e.httpStatus == 404 {
            return false
        } catch let e as AWSServiceError where e.httpStatus == 403 {
            return true
        }
    }

    /// Creates a bucket in the client's region (us-east-1 takes no location constraint).
    public func createBucket(_ bucket: String, region: String) async throws {
        var body: [UInt8] = []
        if region != "us-east-1" {
            body = Array(("<CreateBucketConfiguration xmlns=\"\(Self.xmlns)\"><LocationConstraint>\(region)</LocationConstraint>"
                          + "</CreateBucketConfiguration>").utf8)
        }
        _ = try await send("CreateBucket", method: "PUT", bucket: bucket, body: body, idempotent: false)
    }

    /// "Enabled", "Suspended", or nil when versioning was never turned on.
    public func getBucketVersioning(_ bucket: String) async throws -> String? {
        let r = try await send("GetBucketVersioning", method: "GET", bucket: bucket, query: [("versioning", "")])
        let xml = try parse(r, "GetBucketVersioning")
        return xml.value("Status")
    }

    public func enableVersioning(_ bucket: String) async throws {
        try await putSubresource(bucket, "versioning", "PutBucketVersioning",
                                 "<VersioningConfiguration xmlns=\"\(Self.xmlns)\"><Status>Enabled</Status></VersioningConfiguration>")
    }

    public func blockPublicAccess(_ bucket: String) async throws {
        try await putSubresource(bucket, "publicAccessBlock", "PutPublicAccessBlock",
                                 "<PublicAccessBlockConfiguration xmlns=\"\(Self.xmlns)\"><BlockPublicAcls>true</BlockPublicAcls>"
                                 + "<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>"
                                 + "<RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>")
    }

    /// Default encryption with S3-managed keys (SSE-S3, AES256).
    public func enableDefaultEncryption(_ bucket: String) async throws {
        try await putSubresource(bucket, "encryption", "PutBucketEncryption",
                                 "<ServerSideEncryptionConfiguration xmlns=\"\(Self.xmlns)\"><Rule><ApplyServerSideEncryptionByDefault>"
                                 + "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
                                 + "</ServerSideEncryptionConfiguration>")
    }

    public func putBucketPolicy(_ bucket: String, policy: JSON) async throws {
        try await putSubresource(bucket, "policy", "PutBucketPolicy", policy.serialized(), contentType: "application/json")
    }

    static let xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// PUT of a bucket configuration. These calls require a body checksum (Content-MD5 or a
    /// flexible checksum): SHA-256 here.
    func putSubresource(_ bucket: String, _ subresource: String, _ operation: String, _ body: String,
                        contentType: String = "application/xml") async throws {
        let bytes = Array(body.utf8)
        let checksum = Data(Crypto.sha256(bytes)).base64EncodedString()
        _ = try await send(operation, method: "PUT", bucket: bucket, query: [(subresource, "")],
                                headers: [HTTPHeader("Content-Type", contentType), HTTPHeader("x-amz-sdk-checksum-algorithm", "SHA256"),
                                          HTTPHeader("x-amz-checksum-sha256", checksum)],
                                body: bytes)
    }

    func parse(_ r: HTTPResponse, _ operation: String) throws -> XMLNode {
        do { return try XMLNode(parsing: r.body) } catch {
            throw AWSClientError.malformedResponse(service: "s3", operation: operation, reason: "\(error)")
        }
    }
}

/// A region learned at run time, shared by every copy of the S3 value that learned it.
final class RegionMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?  // under `lock`
    var region: String? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
