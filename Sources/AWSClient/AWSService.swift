import SigV4

/// The wire protocols our services speak (from each botocore model's `metadata.protocol`).
public enum AWSProtocol: Sendable, Equatable {
    /// POST / with `X-Amz-Target: <targetPrefix>.<Operation>`, body JSON.
    case json(version: String, targetPrefix: String)
    /// REST paths and methods, JSON bodies.
    case restJSON
    /// POST / form-encoded `Action=...&Version=...`, XML responses.
    case query(apiVersion: String)
    /// REST paths and methods, XML bodies (s3): signed with S3's rules (the path as sent, no
    /// normalisation, `x-amz-content-sha256`).
    case restXML
}

/// What the client must know about one AWS service to reach and sign for it.
public struct AWSService: Sendable, Equatable {
    /// Short name used in messages and `--verbose` (the endpoint prefix, e.g. `cognito-idp`).
    public var name: String
    /// SigV4 service name (`apigateway` for API Gateway v2, which signs as v1).
    public var signingName: String
    public var endpointPrefix: String
    /// Suffixes accepted after `AWS_ENDPOINT_URL_`: the SDKs' official one (from the service
    /// id, e.g. COGNITO_IDENTITY_PROVIDER) and the endpoint-prefix form (COGNITO_IDP).
    public var endpointEnvSuffixes: [String]
    /// Global services have one endpoint and sign for us-east-1 (IAM).
    public var isGlobal: Bool
    public var wireProtocol: AWSProtocol

    public static let cognitoIdentityProvider = AWSService(
        name: "cognito-idp", signingName: "cognito-idp", endpointPrefix: "cognito-idp",
        endpointEnvSuffixes: ["COGNITO_IDENTITY_PROVIDER", "COGNITO_IDP"], isGlobal: false,
        wireProtocol: .json(version: "1.1", targetPrefix: "AWSCognitoIdentityProviderService"))
    public static let apiGatewayV2 = AWSService(
        name: "apigatewayv2", signingName: "apigateway", endpointPrefix: "apigateway",
        endpointEnvSuffixes: ["APIGATEWAYV2"], isGlobal: false, wireProtocol: .restJSON)
    public static let iam = AWSService(
        name: "iam", signingName: "iam", endpointPrefix: "iam",
        endpointEnvSuffixes: ["IAM"], isGlobal: true, wireProtocol: .query(apiVersion: "2010-05-08"))
    public static let lambda = AWSService(
        name: "lambda", signingName: "lambda", endpointPrefix: "lambda",
        endpointEnvSuffixes: ["LAMBDA"], isGlobal: false, wireProtocol: .restJSON)
    public static let sts = AWSService(
        name: "sts", signingName: "sts", endpointPrefix: "sts",
        endpointEnvSuffixes: ["STS"], isGlobal: false, wireProtocol: .query(apiVersion: "2011-06-15"))
    public static let logs = AWSService(
        name: "logs", signingName: "logs", endpointPrefix: "logs",
        endpointEnvSuffixes: ["CLOUDWATCH_LOGS", "LOGS"], isGlobal: false,
        wireProtocol: .json(version: "1.1", targetPrefix: "Logs_20140328"))

    /// Holds remote state only (`--state s3://…`); the stack has no resource in it, so it is not
    /// among `all`, the services a stack's target records.
    public static let s3 = AWSService(
        name: "s3", signingName: "s3", endpointPrefix: "s3",
        endpointEnvSuffixes: ["S3"], isGlobal: false, wireProtocol: .restXML)

    public static let all: [AWSService] = [.sts, .iam, .cognitoIdentityProvider, .apiGatewayV2, .lambda, .logs]

    /// How requests to this service are signed.
    public var signingOptions: SigningOptions {
        // S3 signs the payload's hash too (the state is small): a changed body fails the signature.
        wireProtocol == .restXML
            ? SigningOptions(normalizePath: false, encodePath: false, payload: .signed, addContentSHA256Header: true)
            : SigningOptions()
    }
}

/// A parsed, validated endpoint: scheme, host, optional port (and any base path).
public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?
    public var basePath: String

    /// `Host` header value: the port only when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, !(scheme == "https" && port == 443), !(scheme == "http" && port == 80) else { return host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String { "\(scheme)://\(hostHeader)\(basePath)" }

    /// Accepts `http(s)://host[:port][/base]` and nothing else.
    public init?(parsing text: String) {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") { scheme = "https"; rest = text.dropFirst(8) }
        else if lower.hasPrefix("http://") { scheme = "http"; rest = text.dropFirst(7) }
        else { return nil }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        guard !path.contains("?"), !path.contains("#"), !authority.contains("@") else { return nil }
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        var hostPart = Substring(authority)
        port = nil
        if hostPart.hasPrefix("[") {  // IPv6 literal
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            } else if !after.isEmpty { return nil }
        } else {
            if let colon = hostPart.lastIndex(of: ":") {
                guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else { return nil }
                port = p
                hostPart = hostPart[..<colon]
            }
            host = String(hostPart)
            let allowed = host.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f
            }
            guard allowed else { return nil }
        }
        guard !host.isEmpty else { return nil }
    }

    /// The URL for a path (already encoded) and query (already encoded, may be empty).
    public func url(path: String, query: String = "") -> String {
        let authority = port.map { _ in hostHeader } ?? host
        return "\(scheme)://\(authority)\(basePath)\(path)\(query.isEmpty ? "" : "?" + query)"
    }

    /// Whether this is a local address (the emulator), as opposed to a real AWS endpoint.
    public var isLocal: Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1" || host.hasSuffix(".localhost")
    }

    /// Whether this is AWS itself (any *.amazonaws.com, regional, FIPS or VPC endpoint), as
    /// opposed to an emulator wherever it runs (127.0.0.1, `moto:5000`, a LAN host).
    public var isAWS: Bool {
        let h = host.lowercased()
        return h == "amazonaws.com" || h.hasSuffix(".amazonaws.com") || h.hasSuffix(".amazonaws.com.cn")
    }
}

/// Where each service's requests go: `--endpoint-url`, `AWS_ENDPOINT_URL_<SERVICE>`,
/// `AWS_ENDPOINT_URL`, else AWS's public endpoint for the region.
public struct EndpointResolver: Sendable {
    public var flag: String?
    public var environment: [String: String]
    public var region: String

    public init(flag: String?, environment: [String: String], region: String) {
        self.flag = flag
        self.environment = environment
        self.region = region
    }

    /// Whether a service goes to AWS's public endpoint (no endpoint configured for it).
    public func isDefault(_ service: AWSService) throws -> Bool {
        try resolve(service).source.hasPrefix(Self.defaultSourcePrefix)
    }

    static let defaultSourcePrefix = "AWS default for "

    public func resolve(_ service: AWSService) throws -> (endpoint: Endpoint, source: String) {
        var candidates: [(String?, String)] = [(flag, "--endpoint-url")]
        for suffix in service.endpointEnvSuffixes {
            candidates.append((environment["AWS_ENDPOINT_URL_\(suffix)"], "AWS_ENDPOINT_URL_\(suffix)"))
        }
        candidates.append((environment["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL"))
        for (value, source) in candidates {
            guard let value, !value.isEmpty else { continue }
            guard let endpoint = Endpoint(parsing: value) else {
                throw AWSClientError.invalidEndpoint(url: value, source: source)
            }
            return (endpoint, source)
        }
        // Only the aws partition is supported (SessionOptions refuses the others).
        let partition = Partition.aws
        let host = service.isGlobal ? partition.iamHost : "\(service.endpointPrefix).\(region).\(partition.dnsSuffix)"
        guard let endpoint = Endpoint(parsing: "https://\(host)") else {
            throw AWSClientError.invalidEndpoint(url: host, source: "region \(region)")
        }
        return (endpoint, Self.defaultSourcePrefix + region)
    }

    /// Any configured custom endpoint (for telling the user "local emulator at ...").
    public var customEndpoint: (endpoint: Endpoint?, raw: String, source: String)? {
        if let f = flag, !f.isEmpty { return (Endpoint(parsing: f), f, "--endpoint-url") }
        if let e = environment["AWS_ENDPOINT_URL"], !e.isEmpty { return (Endpoint(parsing: e), e, "AWS_ENDPOINT_URL") }
        // A service-specific override alone still means "not (only) AWS": name it.
        for service in AWSService.all {
            for suffix in service.endpointEnvSuffixes {
                if let e = environment["AWS_ENDPOINT_URL_\(suffix)"], !e.isEmpty { return (Endpoint(parsing: e), e, "AWS_ENDPOINT_URL_\(suffix)") }
            }
        }
        return nil
    }

    /// The region a service signs for: the global one (IAM) signs for its partition's region.
    public func signingRegion(_ service: AWSService) -> String {
        service.isGlobal ? Partition.aws.iamSigningRegion : region
    }
}
