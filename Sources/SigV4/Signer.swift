import Crypto

/// AWS Signature Version 4: header signing and presigned (query) signing.
/// Pure: no I/O, no clock — the signing time is an argument.
public struct SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    public var credentials: SigningCredentials
    public var region: String
    public var service: String
    public var options: SigningOptions

    public init(credentials: SigningCredentials, region: String, service: String,
                options: SigningOptions = SigningOptions()) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.options = options
    }

    // MARK: - Public entry points

    /// Signs with an `Authorization` header ("Add the signature to the HTTP request",
    /// header form). Returns the headers to add and every intermediate artefact.
    public func signHeaders(_ request: SigningRequest, at time: SigningTime) throws -> SigningResult {
        try requireHost(request)
        let payloadHash = payloadHash(of: request)
        var added: [HeaderField] = []
        if let token = credentials.sessionToken, options.sessionToken == .signed {
            added.append(HeaderField("X-Amz-Security-Token", token))
        }
        added.append(HeaderField("X-Amz-Date", time.amzDate))
        if options.addContentSHA256Header {
            added.append(HeaderField("x-amz-content-sha256", payloadHash))
        }
        // Headers the caller set that we are about to set again are replaced, not doubled.
        let replaced = Set(added.map { $0.name.lowercased() })
        let headers = request.headers.filter { !replaced.contains($0.name.lowercased()) } + added

        let (canonicalHeaders, signedHeaders) = Canonical.headers(headers, excluding: options.unsignedHeaders)
        let canonicalRequest = makeCanonicalRequest(
            request, query: Canonical.queryString(Canonical.queryItems(request.query)),
            canonicalHeaders: canonicalHeaders, signedHeaders: signedHeaders, payloadHash: payloadHash)
        let stringToSign = makeStringToSign(canonicalRequest, time: time)
        let signature = sign(stringToSign, time: time)
        let authorization = "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(scope(time)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"

        if let token = credentials.sessionToken, options.sessionToken == .appendedAfterSigning {
            added.insert(HeaderField("X-Amz-Security-Token", token), at: 0)
        }
        added.append(HeaderField("Authorization", authorization))
        return SigningResult(canonicalRequest: canonicalRequest, stringToSign: stringToSign,
                             signature: signature, authorization: authorization,
                             addedHeaders: added, addedQueryItems: [])
    }

    /// Presigns into the query string ("Add the signature to the query string").
    public func presign(_ request: SigningRequest, at time: SigningTime, expires: Int) throws -> SigningResult {
        try requireHost(request)
        guard (1...604_800).contains(expires) else { throw SigningError.invalidExpiry(expires) }
        let (canonicalHeaders, signedHeaders) = Canonical.headers(request.headers, excluding: options.unsignedHeaders)
        let credential = Canonical.uriEncode("\(credentials.accessKeyId)/\(scope(time))")
        // The SDKs' order on the wire; the canonical form sorts them anyway.
        var authItems: [(String, String)] = [
            ("X-Amz-Algorithm", Self.algorithm),
            ("X-Amz-Credential", credential),
            ("X-Amz-Date", time.amzDate),
            ("X-Amz-SignedHeaders", Canonical.uriEncode(signedHeaders)),
            ("X-Amz-Expires", String(expires)),
        ]
        let token = credentials.sessionToken.map { ("X-Amz-Security-Token", Canonical.uriEncode($0)) }
        if let token, options.sessionToken == .signed { authItems.append(token) }

        var items = Canonical.queryItems(request.query)
        items += authItems.map { Canonical.QueryItem(key: $0.0, value: $0.1) }
        let canonicalRequest = makeCanonicalRequest(
            request, query: Canonical.queryString(items), canonicalHeaders: canonicalHeaders,
            signedHeaders: signedHeaders, payloadHash: payloadHash(of: request))
        let stringToSign = makeStringToSign(canonicalRequest, time: time)
        let signature = sign(stringToSign, time: time)

        if let token, options.sessionToken == .appendedAfterSigning { authItems.append(token) }
        authItems.append(("X-Amz-Signature", signature))
        return SigningResult(canonicalRequest: canonicalRequest, stringToSign: stringToSign,
                             signature: signature, authorization: nil, addedHeaders: [],
                             addedQueryItems: authItems.map { "\($0.0)=\($0.1)" })
    }

    // MARK: - Task 1: canonical request

    func makeCanonicalRequest(_ request: SigningRequest, query: String, canonicalHeaders: String,
                              signedHeaders: String, payloadHash: String) -> String {
        [
            request.method.uppercased(),
            Canonical.uri(request.path, normalize: options.normalizePath, encode: options.encodePath),
            query,
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
    }

    func payloadHash(of request: SigningRequest) -> String {
        switch options.payload {
        case .signed: return Crypto.sha256(request.body).hexString
        case .unsigned: return Self.unsignedPayload
        }
    }

    // MARK: - Task 2: string to sign

    func scope(_ time: SigningTime) -> String {
        "\(time.dateStamp)/\(region)/\(service)/aws4_request"
    }

    func makeStringToSign(_ canonicalRequest: String, time: SigningTime) -> String {
        [Self.algorithm, time.amzDate, scope(time), Crypto.sha256(Array(canonicalRequest.utf8)).hexString]
            .joined(separator: "\n")
    }

    // MARK: - Task 3: signature

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
    func signingKey(_ time: SigningTime) -> [UInt8] {
        let kDate = Crypto.hmacSHA256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), string: time.dateStamp)
        let kRegion = Crypto.hmacSHA256(key: kDate, string: region)
        let kService = Crypto.hmacSHA256(key: kRegion, string: service)
        return Crypto.hmacSHA256(key: kService, string: "aws4_request")
    }

    func sign(_ stringToSign: String, time: SigningTime) -> String {
        Crypto.hmacSHA256(key: signingKey(time), string: stringToSign).hexString
    }

    private func requireHost(_ request: SigningRequest) throws {
        guard request.headers.contains(where: { $0.name.lowercased() == "host" }) else {
            throw SigningError.missingHost
        }
    }
}
