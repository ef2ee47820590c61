import SigV4

/// Credentials plus where they came from (shown by `doctor`; the secret never is).
public struct ResolvedCredentials: Sendable {
    public var credentials: SigningCredentials
    public var source: String

    /// `AKID****WXYZ`: enough to recognise a key, not to use it.
    public var maskedAccessKeyId: String {
        let id = credentials.accessKeyId
        guard id.count > 8 else { return String(repeating: "*", count: id.count) }
        return String(id.prefix(4)) + String(repeating: "*", count: id.count - 8) + String(id.suffix(4))
    }
}

/// The standard chain, in the order the AWS CLI uses for static credentials:
/// an explicit `--profile` first, then the environment, then the shared files' profile.
public enum CredentialsChain {
    public static func resolve(environment: [String: String], shared: SharedConfig,
                               profileFlagGiven: Bool = false) throws -> ResolvedCredentials {
        if !profileFlagGiven, let fromEnv = try fromEnvironment(environment) { return fromEnv }
        try shared.requireProfile()
        let id = shared.value("aws_access_key_id")
        let secret = shared.value("aws_secret_access_key")
        switch (id, secret) {
        case let (id?, secret?):
            return ResolvedCredentials(
                credentials: SigningCredentials(accessKeyId: id.value, secretAccessKey: secret.value,
                                                sessionToken: shared.value("aws_session_token")?.value),
                source: "profile '\(shared.profile)' in \(id.path)")
        case let (id?, nil):
            throw AWSClientError.incompleteCredentials("profile '\(shared.profile)' in \(id.path) has aws_access_key_id but no aws_secret_access_key")
        case let (nil, secret?):
            throw AWSClientError.incompleteCredentials("profile '\(shared.profile)' in \(secret.path) has aws_secret_access_key but no aws_access_key_id")
        case (nil, nil):
            if shared.profileExists {
                throw AWSClientError.noCredentials("profile '\(shared.profile)' has no static keys (SSO, process and role profiles are not supported; export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, e.g. with 'aws configure export-credentials')")
            }
            throw AWSClientError.noCredentials("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a profile in \(shared.credentialsPath) ('aws configure')")
        }
    }

    static func fromEnvironment(_ env: [String: String]) throws -> ResolvedCredentials? {
        let id = env["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = env["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (id, secret) {
        case let (id?, secret?):
            let token = env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return ResolvedCredentials(
                credentials: SigningCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token),
                source: "environment (AWS_ACCESS_KEY_ID)")
        case (_?, nil):
            throw AWSClientError.incompleteCredentials("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        case (nil, _?):
            throw AWSClientError.incompleteCredentials("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (nil, nil):
            return nil
        }
    }
}

/// `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`.
public enum RegionChain {
    public static func resolve(flag: String?, environment: [String: String], shared: SharedConfig?)
        throws -> (region: String, source: String)
    {
        var found: (String, String)?
        if let r = flag, !r.isEmpty { found = (r, "--region") }
        else if let r = environment["AWS_REGION"], !r.isEmpty { found = (r, "AWS_REGION") }
        else if let r = environment["AWS_DEFAULT_REGION"], !r.isEmpty { found = (r, "AWS_DEFAULT_REGION") }
        else if let shared, let r = shared.value("region") { found = (r.value, "profile '\(shared.profile)' in \(r.path)") }
        guard let (region, source) = found else {
            throw AWSClientError.noRegion
        }
        guard isValidRegion(region) else { throw AWSClientError.invalidRegion(region, source: source) }
        return (region, source)
    }

    /// Region names are lower-case letters, digits and hyphens (us-east-1, eu-central-2, ...).
    public static func isValidRegion(_ r: String) -> Bool {
        !r.isEmpty && r.count <= 32 && r.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
            && !r.hasPrefix("-") && !r.hasSuffix("-")
    }
}
