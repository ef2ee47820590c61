import AWSClient
import ArgumentParser
import Foundation

/// Options shared by every command that talks to AWS.
struct AWSOptions: ParsableArguments {
    @Option(help: "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region).")
    var region: String?

    @Option(help: "Profile from the shared config/credentials files (default: AWS_PROFILE, then 'default').")
    var profile: String?

    @Option(name: .customLong("endpoint-url"), help: "Send every AWS call to this URL (e.g. the local emulator). Default: AWS_ENDPOINT_URL[_<SERVICE>], else AWS.")
    var endpointURL: String?

    @Flag(name: .shortAndLong, help: "Print every AWS call: method, URL, headers and body (secrets redacted).")
    var verbose = false

    var session: SessionOptions {
        SessionOptions(profile: profile, region: region, endpointURL: endpointURL, verbose: verbose)
    }

    func configuration() throws -> AWSConfiguration {
        try session.resolve(log: { Console.verbose($0) })
    }
}

/// Secrets a command reads: never from a flag's value (it would show in `ps` and shell history).
enum SecretInput {
    /// All of standard input as text, without the trailing newline(s).
    static func stdin() -> String {
        String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .newlines)
    }

    /// The test user's password: standard input with `--password-stdin`, else PASSWORD; nil when neither.
    static func password(fromStdin: Bool, env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if fromStdin { return stdin() }
        return env["PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
