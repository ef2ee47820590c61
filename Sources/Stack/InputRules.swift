import Foundation

/// AWS's rules for every value the stack sends, in one place, checked before the first call:
/// a value AWS would refuse fails in a second with the rule named, instead of halfway through a
/// create (after the pool and domain exist) and again on every resume. Patterns, lengths and
/// enums are botocore's service models (cognito-idp, iam, lambda, apigatewayv2); the rest cites
/// the API reference it comes from. `create` and `plan` both use these.
public enum InputRules {
    /// One string rule: the field AWS names, its length bounds and the characters its pattern
    /// admits. AWS matches a pattern against the whole value.
    public struct Rule: Sendable {
        /// What the user calls it ("user pool name").
        public let what: String
        /// The flag that sets it, when one does.
        public let flag: String?
        /// `service Field` as the API reference spells it (quoted in the error).
        public let field: String
        public let min: Int
        public let max: Int
        /// The model's pattern, quoted in the error.
        public let pattern: String
        let allows: @Sendable (Unicode.Scalar) -> Bool

        /// Refuses a value with one line naming the field, the flag, the rule and the first
        /// offending character.
        public func check(_ value: String) throws {
            try InputRules.refuseControlCharacters(value, what: what, flag: flag)
            let n = value.unicodeScalars.count
            let head = "invalid \(what) '\(InputRules.shown(value))'\(flag.map { " (\($0))" } ?? "")"
            guard n >= min, n <= max else {
                throw StackError.invalidConfig("\(head): \(field) must be \(min)-\(max) characters, not \(n)")
            }
            if let bad = value.unicodeScalars.first(where: { !allows($0) }) {
                throw StackError.invalidConfig("\(head): \(field) must match \(pattern); '\(InputRules.shown(String(bad)))' is not allowed")
            }
        }
    }

    // MARK: character classes of the models' patterns

    /// Java's `\w` (AWS validates with Java regexes): ASCII letters, digits and '_'.
    static func isWord(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
    }

    static func isCategory(_ c: Unicode.Scalar, _ categories: Set<Character>) -> Bool {
        // The first letter of the general category: L, M, N, P, S, Z, C.
        let letter: Character
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: letter = "L"
        case .nonspacingMark, .spacingMark, .enclosingMark: letter = "M"
        case .decimalNumber, .letterNumber, .otherNumber: letter = "N"
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: letter = "P"
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: letter = "S"
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: letter = "Z"
        default: letter = "C"
        }
        return categories.contains(letter)
    }

    /// `[\w\s+=,.@-]+` (Cognito pool, client and resource server names). `\s` is taken as the
    /// space alone: the other whitespace characters are control characters, refused everywhere.
    static let cognitoName: @Sendable (Unicode.Scalar) -> Bool = { isWord($0) || " +=,.@-".unicodeScalars.contains($0) }

    // MARK: the rules

    public static let stackName = Rule(
        what: "stack name", flag: "--stack-name", field: "the tag value (secure-api:stack) of IAM, Cognito, Lambda and API Gateway",
        min: 1, max: 256, pattern: #"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"#,
        allows: { isCategory($0, ["L", "Z", "N"]) || "_.:/=+-@".unicodeScalars.contains($0) })
    public static let userPoolName = Rule(
        what: "user pool name", flag: "--user-pool-name", field: "cognito-idp PoolName",
        min: 1, max: 128, pattern: #"[\w\s+=,.@-]+"#, allows: cognitoName)
    public static let appClientName = Rule(
        what: "app client name", flag: "--app-client-name", field: "cognito-idp ClientName",
        min: 1, max: 128, pattern: #"[\w\s+=,.@-]+"#, allows: cognitoName)
    public static let machineClientName = Rule(
        what: "machine client name", flag: nil, field: "cognito-idp ClientName",
        min: 1, max: 128, pattern: #"[\w\s+=,.@-]+"#, allows: cognitoName)
    public static let resourceServerIdentifier = Rule(
        what: "resource server identifier", flag: "--resource-server", field: "cognito-idp Identifier",
        min: 1, max: 256, pattern: #"[\x21\x23-\x5B\x5D-\x7E]+"#, allows: { isIdentifierChar($0) })
    public static let resourceServerName = Rule(
        what: "resource server name", flag: nil, field: "cognito-idp Name",
        min: 1, max: 256, pattern: #"[\w\s+=,.@-]+"#, allows: cognitoName)
    public static let scopeName = Rule(
        what: "scope", flag: "--scopes", field: "cognito-idp ScopeName",
        min: 1, max: 256, pattern: #"[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+"#, allows: { isIdentifierChar($0) && $0 != "/" })
    /// `identifier/scope` as the routes require it: API Gateway's AuthorizationScopes items are
    /// 1-64 characters (Cognito's AllowedOAuthScopes allow 256, so the route is the tighter).
    public static let qualifiedScope = Rule(
        what: "scope", flag: "--resource-server/--scopes", field: "apigatewayv2 AuthorizationScopes item",
        min: 1, max: 64, pattern: #"[\x21\x23-\x5B\x5D-\x7E]+"#, allows: { isIdentifierChar($0) })
    public static let username = Rule(
        what: "username", flag: "--username", field: "cognito-idp Username",
        min: 1, max: 128, pattern: #"[\p{L}\p{M}\p{S}\p{N}\p{P}]+"#, allows: { isCategory($0, ["L", "M", "S", "N", "P"]) })
    public static let email = Rule(
        what: "e-mail", flag: "--email", field: "cognito-idp AttributeValue",
        min: 3, max: 2048, pattern: "an address with '@'", allows: { _ in true })
    public static let callbackURL = Rule(
        what: "callback URL", flag: "--callback-url", field: "cognito-idp CallbackURLs item",
        min: 1, max: 1024, pattern: #"[\p{L}\p{M}\p{S}\p{N}\p{P}]+"#, allows: { isCategory($0, ["L", "M", "S", "N", "P"]) })
    public static let apiName = Rule(
        what: "API name", flag: "--api-name", field: "apigatewayv2 Name",
        min: 1, max: 128, pattern: "any characters", allows: { _ in true })
    public static let authorizerName = Rule(
        what: "authorizer name", flag: nil, field: "apigatewayv2 Name",
        min: 1, max: 128, pattern: "any characters", allows: { _ in true })
    /// The API Gateway v2 reference for CreateStage: "Stage names can contain only
    /// alphanumeric characters, hyphens, and underscores, or be $default. Maximum length is 128."
    /// (The model says only 1-128.) The name is also a URL path segment of every later call.
    public static let stageName = Rule(
        what: "stage name", flag: "--stage", field: "apigatewayv2 StageName",
        min: 1, max: 128, pattern: "[A-Za-z0-9_-]+ or $default", allows: { isWord($0) || $0 == "-" })
    public static let roleName = Rule(
        what: "role name", flag: "--role-name", field: "iam RoleName",
        min: 1, max: 64, pattern: #"[\w+=,.@-]+"#, allows: { isWord($0) || "+=,.@-".unicodeScalars.contains($0) })
    public static let authorizerRoleName = Rule(
        what: "authorizer role name", flag: nil, field: "iam RoleName",
        min: 1, max: 64, pattern: #"[\w+=,.@-]+"#, allows: { isWord($0) || "+=,.@-".unicodeScalars.contains($0) })
    /// The bare name inside lambda's FunctionName pattern; 64 is the reference's limit for a
    /// name (140 is for a full ARN). The name is also a URL path segment.
    public static let functionName = Rule(
        what: "function name", flag: "--function-name", field: "lambda FunctionName",
        min: 1, max: 64, pattern: "[a-zA-Z0-9-_]+", allows: { isFunctionNameChar($0) })
    public static let authorizerFunctionName = Rule(
        what: "authorizer function name", flag: nil, field: "lambda FunctionName",
        min: 1, max: 64, pattern: "[a-zA-Z0-9-_]+", allows: { isFunctionNameChar($0) })
    /// cognito-idp DomainType `^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$` (edges checked apart).
    public static let domainPrefix = Rule(
        what: "domain prefix", flag: "--domain-prefix / DOMAIN_PREFIX", field: "cognito-idp Domain",
        min: 1, max: 63, pattern: #"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$"#,
        allows: { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" })
    /// Cognito's developer guide: a prefix may not contain these.
    public static let reservedDomainWords = ["aws", "amazon", "cognito"]
    /// lambda Architecture enum.
    public static let architectures = ["x86_64", "arm64"]
    /// cognito-idp PasswordPolicyMinLengthType.
    public static let minimumPasswordLengths = 6...99
    /// cognito-idp PasswordType max.
    public static let passwordMaxLength = 256

    static func isIdentifierChar(_ c: Unicode.Scalar) -> Bool {
        c.value == 0x21 || (0x23...0x5B).contains(c.value) || (0x5D...0x7E).contains(c.value)
    }

    static func isFunctionNameChar(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    // MARK: checks beyond a character class

    /// C0 controls (CR, LF, ESC, TAB, ...), DEL and C1 controls: no AWS name takes them, and
    /// printed back they would rewrite the user's terminal.
    static func isControl(_ c: Unicode.Scalar) -> Bool { c.value < 0x20 || (0x7F...0x9F).contains(c.value) }

    static func refuseControlCharacters(_ value: String, what: String, flag: String?) throws {
        if value.unicodeScalars.contains(where: isControl) {
            throw StackError.invalidConfig("invalid \(what) '\(shown(value))'\(flag.map { " (\($0))" } ?? ""): contains a control character (CR, LF, ESC, TAB, ...)")
        }
    }

    /// The value with control characters escaped, safe to print.
    public static func shown(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            if isControl(c) { out += "\\u{" + String(c.value, radix: 16) + "}" } else { out.unicodeScalars.append(c) }
        }
        return out
    }

    public static func checkDomainPrefix(_ p: String) throws {
        try domainPrefix.check(p)
        guard !p.hasPrefix("-"), !p.hasSuffix("-") else {
            throw StackError.invalidConfig("invalid domain prefix '\(p)': cognito-idp Domain must not start or end with '-'")
        }
        if let word = reservedDomainWords.first(where: { p.contains($0) }) {
            throw StackError.invalidConfig("invalid domain prefix '\(p)': Cognito forbids prefixes containing the reserved word '\(word)'")
        }
    }

    public static func checkStageName(_ s: String) throws {
        if s == "$default" { return }
        try stageName.check(s)
    }

    /// Route keys as this stack uses them: `METHOD /path` (API Gateway's RouteKey).
    static func checkRouteKey(_ key: String) throws {
        try refuseControlCharacters(key, what: "route key", flag: nil)
        let parts = key.split(separator: " ", omittingEmptySubsequences: false)
        let methods: Set<Substring> = ["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        guard parts.count == 2, methods.contains(parts[0]), parts[1].hasPrefix("/") else {
            throw StackError.invalidConfig("invalid route key '\(key)': apigatewayv2 RouteKey must look like 'GET /hello'")
        }
    }

    /// A URL AWS will accept where only https is allowed except for a local test server:
    /// parsed, so `http://localhost.evil.example/` or `http://localhost@evil.example/` is not
    /// mistaken for localhost. http is allowed for exactly `localhost` and `127.0.0.1`.
    public static func checkSecureURL(_ text: String, what: String, flag: String, allowQuery: Bool) throws {
        try refuseControlCharacters(text, what: what, flag: flag)
        let head = "invalid \(what) '\(shown(text))' (\(flag))"
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), !host.isEmpty else {
            throw StackError.invalidConfig("\(head): not an absolute http(s) URL")
        }
        guard url.user == nil, url.password == nil else {
            throw StackError.invalidConfig("\(head): must not carry a user name or password")
        }
        guard url.fragment == nil, allowQuery || url.query == nil else {
            throw StackError.invalidConfig("\(head): must not have a \(url.fragment == nil ? "query" : "fragment")")
        }
        switch scheme {
        case "https": return
        case "http" where host == "localhost" || host == "127.0.0.1": return
        default:
            throw StackError.invalidConfig("\(head): must be https:// (http:// only for exactly localhost or 127.0.0.1)")
        }
    }

    /// The resource server's Name, derived from its identifier: the identifier may be a URL
    /// (Cognito's guide suggests one), but cognito-idp Name allows only `[\w\s+=,.@-]+`. The
    /// scheme is dropped and every other character the Name refuses becomes '-'.
    public static func resourceServerName(forIdentifier identifier: String) -> String {
        var rest = Substring(identifier)
        for scheme in ["https://", "http://"] where rest.lowercased().hasPrefix(scheme) && rest.count > scheme.count {
            rest = rest.dropFirst(scheme.count)
        }
        var name = String(String.UnicodeScalarView(rest.unicodeScalars.map { cognitoName($0) ? $0 : "-" }))
        while name.count > 1, name.hasSuffix("-") { name.removeLast() }
        return String(name.prefix(resourceServerName.max))
    }

    // MARK: the whole configuration

    /// What a stored configuration must satisfy to be read at all (state.json): the rules that
    /// keep later calls safe (names that become URL path segments). Deliberately lenient, so a
    /// stack created under older rules can still be inspected and deleted.
    static func checkStored(_ c: StackConfig) throws {
        if c.auth == .oidc {
            guard let issuer = c.oidcIssuer, !issuer.isEmpty else {
                throw StackError.invalidConfig("--auth oidc needs --issuer https://HOST/... (e.g. https://HOST/realms/REALM)")
            }
            guard let audience = c.oidcAudience, !audience.isEmpty else {
                throw StackError.invalidConfig("--auth oidc needs --audience (Keycloak's default is 'account')")
            }
        }
        try authorizerRoleName.check(c.authorizerRoleName)
        try authorizerFunctionName.check(c.authorizerFunctionName)
        try checkDomainPrefix(c.domainPrefix)
        try roleName.check(c.roleName)
        try functionName.check(c.functionName)
        for (value, what) in [(c.stackName, "stack name"), (c.userPoolName, "user pool name"), (c.apiName, "API name"),
                              (c.resourceServerIdentifier, "resource server identifier")] where value.isEmpty || value.contains("\n") {
            throw StackError.invalidConfig("invalid \(what) '\(shown(value))': must be non-empty, one line")
        }
        guard !c.scopes.isEmpty, c.scopes.allSatisfy({ !$0.isEmpty && !$0.contains(" ") && !$0.contains("/") }) else {
            throw StackError.invalidConfig("scopes must be non-empty names without spaces or '/'")
        }
        for key in [c.routeKey, c.writeRouteKey] {
            guard key.split(separator: " ").count == 2, key.contains(" /") else {
                throw StackError.invalidConfig("route key must look like 'GET /hello': \(key)")
            }
        }
        guard c.scopes.contains(where: { $0.hasSuffix(".write") }) else {
            throw StackError.invalidConfig("scopes need a '.write' scope for the write route (e.g. hello.write)")
        }
    }

    /// Everything AWS would refuse in a new stack's configuration (create, resume, plan).
    /// `today` is a UTC `yyyy-MM-dd` date for the runtime table, consulted only when a function
    /// is still to be created. Returns warnings to show.
    public static func checkNew(_ c: StackConfig, today: String = InputRules.today(), functionsToCreate: Bool = true) throws -> [String] {
        // Control characters first, whichever field holds them.
        let fields: [(String, String, String?)] = [
            (c.stackName, "stack name", "--stack-name"), (c.userPoolName, "user pool name", "--user-pool-name"),
            (c.domainPrefix, "domain prefix", "--domain-prefix"), (c.resourceServerIdentifier, "resource server identifier", "--resource-server"),
            (c.appClientName, "app client name", "--app-client-name"), (c.machineClientName, "machine client name", nil),
            (c.callbackURL, "callback URL", "--callback-url"), (c.username, "username", "--username"), (c.email, "e-mail", "--email"),
            (c.apiName, "API name", "--api-name"), (c.authorizerName, "authorizer name", nil), (c.roleName, "role name", "--role-name"),
            (c.functionName, "function name", "--function-name"), (c.runtime, "runtime", "--runtime"), (c.architecture, "architecture", nil),
            (c.routeKey, "route key", nil), (c.writeRouteKey, "route key", nil), (c.stageName, "stage name", "--stage"),
            (c.authorizerRoleName, "authorizer role name", nil), (c.authorizerFunctionName, "authorizer function name", nil),
            (c.oidcIssuer ?? "", "issuer", "--issuer"), (c.oidcAudience ?? "", "audience", "--audience"),
        ] + c.scopes.map { ($0, "scope", "--scopes") }
        for (value, what, flag) in fields { try refuseControlCharacters(value, what: what, flag: flag) }
        try checkStored(c)
        if c.auth == .lambda {
            // Two nodes naming one resource would share it, and deleting one would delete both.
            // IAM role names are unique regardless of case.
            if c.roleName.lowercased() == c.authorizerRoleName.lowercased() {
                throw StackError.invalidConfig("--role-name \(shown(c.roleName)) is the Lambda authorizer's role; choose another")
            }
            if c.functionName == c.authorizerFunctionName {
                throw StackError.invalidConfig("--function-name \(shown(c.functionName)) is the Lambda authorizer's function; choose another")
            }
        }
        try stackName.check(c.stackName)
        try userPoolName.check(c.userPoolName)
        try appClientName.check(c.appClientName)
        try machineClientName.check(c.machineClientName)
        try resourceServerIdentifier.check(c.resourceServerIdentifier)
        try resourceServerName.check(c.resourceServerName)
        for scope in c.scopes { try scopeName.check(scope) }
        for scope in c.qualifiedScopes {
            try qualifiedScope.check(scope)
            let description = c.scopeDescription(scope: String(scope.dropFirst(c.resourceServerIdentifier.count + 1)))
            guard description.unicodeScalars.count <= 256 else {
                throw StackError.invalidConfig("invalid resource server identifier (--resource-server): the scope description '\(description.prefix(40))...' would pass cognito-idp ScopeDescription's 256 characters")
            }
        }
        try username.check(c.username)
        try email.check(c.email)
        guard c.email.contains("@") else { throw StackError.invalidConfig("invalid e-mail '\(shown(c.email))' (--email): needs an '@'") }
        try callbackURL.check(c.callbackURL)
        try checkSecureURL(c.callbackURL, what: "callback URL", flag: "--callback-url", allowQuery: true)
        try apiName.check(c.apiName)
        try authorizerName.check(c.authorizerName)
        try checkStageName(c.stageName)
        for key in [c.routeKey, c.writeRouteKey] { try checkRouteKey(key) }
        guard architectures.contains(c.architecture) else {
            throw StackError.invalidConfig("invalid architecture '\(shown(c.architecture))': lambda Architectures allows \(architectures.joined(separator: ", "))")
        }
        guard minimumPasswordLengths.contains(c.minimumPasswordLength) else {
            throw StackError.invalidConfig("invalid minimum password length \(c.minimumPasswordLength): cognito-idp MinimumLength is \(minimumPasswordLengths.lowerBound)-\(minimumPasswordLengths.upperBound)")
        }
        if c.auth == .oidc, let issuer = c.oidcIssuer {
            try checkSecureURL(issuer, what: "issuer", flag: "--issuer", allowQuery: false)
            guard issuer.unicodeScalars.count <= 2048 else {
                throw StackError.invalidConfig("invalid issuer (--issuer): apigatewayv2 Issuer is at most 2048 characters")
            }
        }
        guard functionsToCreate else { return [] }
        return try checkRuntime(c.runtime, today: today).map { [$0] } ?? []
    }

    // MARK: Lambda runtimes

    /// Python runtimes (the stack's functions are Python) and when Lambda deprecates them and
    /// blocks creating functions with them (UTC dates, `yyyy-MM-dd`). AWS moves these dates:
    /// keep this table in step with the Lambda developer guide's "Lambda runtimes" page
    /// (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html). Read 2026-12-02.
    public static let pythonRuntimes: [(runtime: String, deprecated: String?, blockCreate: String?)] = [
        ("python2.7", "2021-07-15", "2021-07-15"),
        ("python3.6", "2022-07-18", "2022-07-18"),
        ("python3.7", "2023-12-04", "2024-01-09"),
        ("python3.8", "2024-10-14", "2025-02-28"),
        ("python3.9", "2025-12-15", "2027-02-01"),
        ("python3.10", "2026-06-30", "2026-07-31"),
        ("python3.11", "2027-06-30", "2027-07-31"),
        ("python3.12", "2028-10-31", "2028-11-30"),
        ("python3.13", "2029-06-30", "2029-07-31"),
        ("python3.14", "2029-06-30", "2029-07-31"),
    ]

    /// Refuses a runtime Lambda no longer creates functions with (or that is not Python, which
    /// the stack's code is); returns a warning for a deprecated one still creatable.
    public static func checkRuntime(_ runtime: String, today: String) throws -> String? {
        guard let row = pythonRuntimes.first(where: { $0.runtime == runtime }) else {
            throw StackError.invalidConfig("invalid runtime '\(shown(runtime))' (--runtime): the stack's functions are Python; use one of "
                                           + pythonRuntimes.filter { ($0.blockCreate ?? "9999") > today }.map(\.runtime).joined(separator: ", "))
        }
        if let block = row.blockCreate, today >= block {
            throw StackError.invalidConfig("invalid runtime '\(runtime)' (--runtime): Lambda has refused to create \(runtime) functions since \(block) (deprecated \(row.deprecated ?? block)); use python3.12 or later")
        }
        if let deprecated = row.deprecated, today >= deprecated {
            return "runtime \(runtime) is deprecated since \(deprecated) (no security patches); Lambda refuses to create such functions from \(row.blockCreate ?? "a date not yet set"): prefer python3.12 or later"
        }
        return nil
    }

    /// Today's UTC date as `yyyy-MM-dd`.
    public static func today(_ now: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let d = calendar.dateComponents([.year, .month, .day], from: now)
        return String(format: "%04d-%02d-%02d", d.year ?? 0, d.month ?? 0, d.day ?? 0)
    }

    // MARK: the password

    /// The pool's password policy (Cognito defaults: upper, lower, digit, symbol) and
    /// PasswordType's limits, checked before any call. Cognito counts only Basic Latin
    /// letters, digits and symbols, so anything outside printable ASCII is refused.
    public static func checkPassword(_ p: String, minimumLength: Int) throws {
        if p.unicodeScalars.count > passwordMaxLength {
            throw StackError.invalidConfig("PASSWORD is longer than cognito-idp Password's \(passwordMaxLength) characters")
        }
        if p.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value > 0x7E }) {
            throw StackError.invalidConfig("PASSWORD may hold only printable Basic Latin (ASCII) characters: Cognito's policy counts no others (no accented or non-Latin letters, no control characters)")
        }
        var problems: [String] = []
        let s = p.unicodeScalars
        if s.count < minimumLength { problems.append("at least \(minimumLength) characters") }
        if !s.contains(where: { $0 >= "A" && $0 <= "Z" }) { problems.append("an upper-case letter") }
        if !s.contains(where: { $0 >= "a" && $0 <= "z" }) { problems.append("a lower-case letter") }
        if !s.contains(where: { $0 >= "0" && $0 <= "9" }) { problems.append("a digit") }
        if !s.contains(where: { "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-".unicodeScalars.contains($0) }) { problems.append("a symbol") }
        if p.hasPrefix(" ") || p.hasSuffix(" ") { problems.append("no leading or trailing space") }
        if !problems.isEmpty {
            throw StackError.invalidConfig("PASSWORD does not meet the user pool's policy: needs \(problems.joined(separator: ", "))")
        }
    }
}

extension StackConfig {
    /// The resource server's Name (see `InputRules.resourceServerName(forIdentifier:)`).
    public var resourceServerName: String { InputRules.resourceServerName(forIdentifier: resourceServerIdentifier) }

    /// A scope's description as CreateResourceServer sends it.
    public func scopeDescription(scope: String) -> String { "\(scope) access to \(resourceServerIdentifier)" }
}
