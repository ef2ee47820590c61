import AWSClient
import ArgumentParser
import Foundation
import Services

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show what a run would use: credentials source, region, endpoints, account.")

    @OptionGroup var aws: AWSOptions
    @Option(help: "text or json.") var output: OutputFormat = .text

    func run() async throws {
        let session = aws.session
        let target = try session.resolveTarget()
        let config = try aws.configuration()
        let pad = { (s: String) in secure_api.pad(s, 13) }
        let creds = config.credentials
        if output == .json {
            var endpoints: [JSON] = []
            for service in AWSService.all {
                let (endpoint, source) = try target.endpoints.resolve(service)
                endpoints.append(["service": .string(service.name), "url": .string("\(endpoint)"), "source": .string(source),
                                  "signing_region": .string(target.endpoints.signingRegion(service))])
            }
            let identity = try await STS(client: AWSClient(config: config)).getCallerIdentity()
            let json: JSON = ["command": "doctor",
                              "credentials": ["source": .string(creds.source), "access_key_id": .string(creds.maskedAccessKeyId),
                                              "session_token": .bool(creds.credentials.sessionToken != nil)],
                              "region": ["name": .string(config.region), "source": .string(config.regionSource)],
                              "endpoints": .array(endpoints), "account": .string(identity.account), "arn": .string(identity.arn),
                              "target": .string(target.endpoints.targetDescription(account: identity.account))]
            Console.out(json.serialized(pretty: true))
            return
        }
        print("\(pad("credentials"))\(creds.source), access key \(creds.maskedAccessKeyId)"
              + (creds.credentials.sessionToken != nil ? ", with session token" : ""))
        print("\(pad("region"))\(config.region) (from \(config.regionSource))")
        for service in AWSService.all {
            let (endpoint, source) = try target.endpoints.resolve(service)
            let signing = service.isGlobal ? ", signed for \(target.endpoints.signingRegion(service))" : ""
            print("\(pad("endpoint"))\(secure_api.pad(service.name, 13))\(endpoint) (\(source)\(signing))")
        }
        let identity = try await STS(client: AWSClient(config: config)).getCallerIdentity()
        print("\(pad("account"))\(Console.safe(identity.account)) (\(Console.safe(identity.arn)))")
        print("\(pad("target"))\(target.endpoints.targetDescription(account: identity.account))")
    }
}
