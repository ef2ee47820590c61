import ArgumentParser
import Foundation

@main
struct Entry {
    static func main() async {
        // A closed pipe (`| head`) must not kill a run halfway: writes fail with EPIPE instead and
        // the output is dropped (Console.emit).
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try SecureAPI.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch let error as CleanExit {
            SecureAPI.exit(withError: error)
        } catch let error where isArgumentParserError(error) {
            SecureAPI.exit(withError: error)
        } catch {
            // User-facing failures: one line on stderr, never a stack trace.
            Console.error(describe(error))
            exit(1)
        }
    }

    static func isArgumentParserError(_ error: Error) -> Bool {
        error is ValidationError || String(reflecting: type(of: error)).contains("ArgumentParser")
    }
}

struct SecureAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secure-api",
        abstract: "Build, inspect, prove and tear down a secured serverless API on AWS with explicit SigV4-signed calls.",
        discussion: "State lives in state.json, or in S3 with a lock for teams (--state s3://BUCKET/KEY, SECURE_API_STATE). Runs go to real AWS unless an endpoint is configured (--endpoint-url, AWS_ENDPOINT_URL).",
        version: "0.1.0",
        subcommands: [CreateCommand.self, DeleteCommand.self, StatusCommand.self, PlanCommand.self, LoginCommand.self, TokenCommand.self, JWTCommand.self, RequestCommand.self, VerifyCommand.self, SignCommand.self, DoctorCommand.self, CallCommand.self, StateCommand.self, ForceUnlockCommand.self]
    )
}
