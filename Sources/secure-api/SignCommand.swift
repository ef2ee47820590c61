import AWSClient
import ArgumentParser
import Foundation
import SigV4
import Transport

struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a raw HTTP request with SigV4 and show any stage of it (optionally send it).",
        discussion: """
            Reads a request in the AWS SigV4 test suite's request.txt form from FILE or stdin:
              GET /path?query HTTP/1.1
              Host: example.amazonaws.com
              Header: value

              body
            Credentials come from the usual chain (environment, then the shared files).
            """)

    @Argument(help: "File with the raw request ('-' or omitted: stdin).")
    var file: String?

    @Option(help: "SigV4 service name (e.g. sts, iam, execute-api, apigateway).")
    var service: String

    @Option(help: "Signing time, ISO 8601 (e.g. 2015-08-30T12:36:00Z). Default: now.")
    var time: String?

    enum Show: String, ExpressibleByArgument, CaseIterable {
        case canonicalRequest = "canonical-request", stringToSign = "string-to-sign", signature
        case signedRequest = "signed-request"
    }

    @Option(help: "What to print: \(Show.allCases.map(\.rawValue).joined(separator: "|")).")
    var show: Show = .signedRequest

    @Flag(help: "Sign in the query string (a presigned URL) instead of an Authorization header.")
    var presign = false

    @Option(help: "Lifetime of a presigned request in seconds (1-604800).")
    var expires: Int = 3600

    @Flag(help: "Use UNSIGNED-PAYLOAD instead of the body's SHA-256.")
    var unsignedPayload = false

    @Flag(name: .customLong("no-normalize-path"), help: "Keep '.', '..' and repeated slashes in the signed path.")
    var noNormalizePath = false

    @Flag(name: .customLong("s3-path"), help: "Sign the path S3-style: as sent, without normalisation or a second encoding.")
    var s3Path = false

    @Flag(help: "Add the session token after signing (not covered by the signature), as a few services expect.")
    var sessionTokenAfterSigning = false

    @Flag(help: "Add and sign an x-amz-content-sha256 header.")
    var contentSHA256 = false

    @Flag(help: "Send the signed request and print the response (a tiny awscurl).")
    var send = false

    @Option(help: "Scheme for --send: https or http.")
    var scheme = "https"

    @OptionGroup var aws: AWSOptions

    func validate() throws {
        if !(1...604_800).contains(expires) { throw ValidationError("--expires must be between 1 and 604800 seconds") }
        if scheme != "https" && scheme != "http" { throw ValidationError("--scheme must be https or http") }
    }

    func run() async throws {
        let bytes = try readInput()
        let raw = try RawHTTPRequest(parsing: bytes)
        let session = aws.session
        let shared = try SharedConfig(environment: session.environment, profileOverride: aws.profile)
        let (region, _) = try RegionChain.resolve(flag: aws.region, environment: session.environment, shared: shared)
        let credentials = try CredentialsChain.resolve(environment: session.environment, shared: shared,
                                                       profileFlagGiven: aws.profile != nil)
        let signingTime: SigningTime
        if let time {
            guard let t = SigningTime(iso8601: time) else {
                throw CLIError("invalid --time '\(time)': expected ISO 8601 like 2015-08-30T12:36:00Z")
            }
            signingTime = t
        } else {
            signingTime = SigningTime(secondsSince1970: Int64(Date().timeIntervalSince1970))
        }
        var options = SigningOptions(normalizePath: !(noNormalizePath || s3Path), encodePath: !s3Path)
        options.sessionToken = sessionTokenAfterSigning ? .appendedAfterSigning : .signed
        options.payload = unsignedPayload ? .unsigned : .signed
        options.addContentSHA256Header = contentSHA256 && !presign
        let signer = SigV4Signer(credentials: credentials.credentials, region: region, service: service, options: options)
        let result = presign
            ? try signer.presign(raw.signingRequest, at: signingTime, expires: expires)
            : try signer.signHeaders(raw.signingRequest, at: signingTime)
        let signed = raw.applying(result)

        if send {
            try await sendSigned(signed, to: try customEndpoint(region: region))
            return
        }
        switch show {
        case .canonicalRequest: print(result.canonicalRequest)
        case .stringToSign: print(result.stringToSign)
        case .signature: print(result.signature)
        case .signedRequest: Console.emit(STDOUT_FILENO, signed.render())
        }
    }

    func readInput() throws -> [UInt8] {
        if let file, file != "-" {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError("cannot read request file \(file)")
            }
            return Array(data)
        }
        return Array(FileHandle.standardInput.readDataToEndOfFile())
    }

    /// Where `--send` connects, as every other command resolves it: `--endpoint-url`, then
    /// `AWS_ENDPOINT_URL_<SERVICE>` (for the services we know), then `AWS_ENDPOINT_URL`. Nil:
    /// the request's own Host over `--scheme`.
    func customEndpoint(region: String) throws -> Endpoint? {
        let env = aws.session.environment
        if let known = AWSService.all.first(where: { $0.signingName == service || $0.name == service }) {
            let endpoint = try EndpointResolver(flag: aws.endpointURL, environment: env, region: region).resolve(known).endpoint
            let awsDefault = try EndpointResolver(flag: nil, environment: [:], region: region).resolve(known).endpoint
            return endpoint == awsDefault ? nil : endpoint
        }
        for (value, source) in [(aws.endpointURL, "--endpoint-url"), (env["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL")] {
            guard let value, !value.isEmpty else { continue }
            guard let endpoint = Endpoint(parsing: value) else { throw AWSClientError.invalidEndpoint(url: value, source: source) }
            return endpoint
        }
        return nil
    }

    func sendSigned(_ request: RawHTTPRequest, to endpoint: Endpoint?) async throws {
        guard let host = request.headers.first(where: { $0.name.lowercased() == "host" })?.value
            .trimmingCharacters(in: .whitespaces) else { throw SigningError.missingHost }
        // The wire needs escapes where the text form allowed raw spaces or UTF-8.
        let target = request.target.utf8.map { b -> String in
            b > 0x20 && b < 0x7f ? String(UnicodeScalar(b)) : String(format: "%%%02X", b)
        }.joined()
        // To a custom endpoint the signed Host header still goes as it is (it is signed).
        let base = endpoint.map { "\($0.scheme)://\($0.hostHeader)\($0.basePath)" } ?? "\(scheme)://\(host)"
        let http = HTTPRequest(method: request.method, url: base + target,
                               headers: request.headers.map { HTTPHeader($0.name, Canonicalish.unfold($0.value)) },
                               body: request.body)
        let response = try await CurlTransport.shared.send(http, timeouts: HTTPTimeouts())
        print("HTTP \(response.status)")
        for h in response.headers { print(Console.safe("\(h.name): \(h.value)")) }
        print("")
        Console.emit(STDOUT_FILENO, response.body)
        if !(200..<400).contains(response.status) { throw ExitCode(1) }
    }
}

enum Canonicalish {
    /// A folded header value as one line (HTTP/1.1 forbids folding on the wire).
    static func unfold(_ v: String) -> String {
        v.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }
}
