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
