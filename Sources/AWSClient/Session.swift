import Foundation
import Transport

/// Resolves what a run will use from flags and environment, in the AWS CLI's order.
public struct SessionOptions: Sendable {
    public var profile: String?
    public var region: String?
    public var endpointURL: String?
    public var verbose: Bool
    public var environment: [String: String]

    public init(profile: String? = nil, region: String? = nil, endpointURL: String? = nil, verbose: Bool = false,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.profile = profile
        self.region = region
        self.endpointURL = endpointURL
        self.verbose = verbose
        self.environment = environment
    }

    /// Shared config, region and endpoint resolver — everything but credentials.
    public func resolveTarget() throws -> (shared: SharedConfig, region: String, regionSource: String, endpoints: EndpointResolver) {
        let shared = try SharedConfig(environment: environment, profileOverride: profile)
        if profile != nil { try shared.requireProfile() }
        let (region, regionSource) = try RegionChain.resolve(flag: region, environment: environment, shared: shared)
        try Partition.requireSupported(region: region)
        let endpoints = EndpointResolver(flag: endpointURL, environment: environment, region: region)
        // Validate every endpoint now so a typo fails before any work starts.
        for service in AWSService.all { _ = try endpoints.resolve(service) }
        return (shared, region, regionSource, endpoints)
    }

    public func resolve(log: (@Sendable (String) -> Void)? = nil) throws -> AWSConfiguration {
        let (shared, region, regionSource, endpoints) = try resolveTarget()
        let credentials = try CredentialsChain.resolve(environment: environment, shared: shared,
                                                       profileFlagGiven: profile != nil)
        return AWSConfiguration(credentials: credentials, region: region, regionSource: regionSource,
                                endpoints: endpoints, retry: try RetryPolicy.fromEnvironment(environment),
                                timeouts: try Self.timeouts(environment), log: verbose ? log : nil)
    }
}

extension SessionOptions {
    /// Per-request timeout: SECURE_API_HTTP_TIMEOUT_SECONDS (default 60), connect at most 10 s.
    static func timeouts(_ env: [String: String]) throws -> HTTPTimeouts {
        let total = try number(env, "SECURE_API_HTTP_TIMEOUT_SECONDS", in: 1...86_400, rule: "a number of seconds from 1 to 86400") ?? 60
        return HTTPTimeouts(connectMilliseconds: Int(min(10, total) * 1000), totalMilliseconds: Int(total * 1000))
    }

    /// A numeric setting from the environment, range-checked before any conversion can trap
    /// (inf, nan and 1e30 all parse as Doubles); nil when unset.
    static func number(_ env: [String: String], _ name: String, in range: ClosedRange<Double>, rule: String) throws -> Double? {
        guard let text = env[name] else { return nil }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, range.contains(value) else {
            throw AWSClientError.invalidSetting(name: name, value: text, rule: rule)
        }
        return value
    }
}

extension EndpointResolver {
    /// The one line every run starts with, so nobody deploys to the wrong place by surprise.
    public func targetDescription(account: String? = nil) -> String {
        if let custom = customEndpoint {
            let where_ = custom.endpoint.map { "\($0)" } ?? custom.raw
            if custom.endpoint?.isLocal == true { return "local emulator at \(where_) (region \(region))" }
            return "custom endpoint \(where_) (region \(region))"
        }
        return "AWS account \(account ?? "(unknown)") region \(region)"
    }
}
