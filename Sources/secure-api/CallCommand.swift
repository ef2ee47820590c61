import AWSClient
import ArgumentParser
import Foundation
import SigV4

/// A raw, signed call to any operation of the services we know — the learner's window on
/// the wire (`-v` shows the request and response).
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Make one signed AWS call and print the JSON answer (like 'aws SERVICE OPERATION').",
        discussion: """
            Services: \(AWSService.all.map(\.name).joined(separator: ", ")).
            JSON services (cognito-idp, logs): INPUT is the request body.
            Query services (iam, sts): INPUT is an object of parameters, e.g. '{"RoleName":"x"}'.
            REST services (apigatewayv2, lambda): give --method and --path; INPUT is the body.
            """)

    @Argument(help: "Service name.") var service: String
    @Argument(help: "Operation name, e.g. ListUserPools.") var operation: String
    @Argument(help: "JSON input (default {}).") var input: String = "{}"
    @Option(help: "HTTP method (REST services).") var method: String?
    @Option(help: "Request path, already escaped (REST services), e.g. /v2/apis.") var path: String?
    @OptionGroup var aws: AWSOptions

    func validate() throws {
        if let method, !RawHTTPRequest.isToken(method) { throw ValidationError("--method must be an HTTP method token (letters, e.g. GET)") }
        if let path {
            // Appended to the endpoint URL: a leading '/' keeps it out of the authority (no
            // '@evil.example' turning the endpoint into a user name); CR/LF would split the request.
            guard path.hasPrefix("/") else { throw ValidationError("--path must start with '/' (and so has no '@' before it)") }
            if path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " }) {
                throw ValidationError("--path may not contain spaces or control characters (CR, LF, ...): escape them")
            }
        }
    }

    func run() async throws {
        guard let svc = AWSService.all.first(where: { $0.name == service || $0.signingName == service }) else {
            throw CLIError("unknown service '\(service)' (known: \(AWSService.all.map(\.name).joined(separator: ", ")))")
        }
        let body: JSON
        do { body = try JSON(parsing: input) } catch { throw CLIError("INPUT is not valid JSON: \(error)") }
        let client = AWSClient(config: try aws.configuration())
        // Only reads are retried after an ambiguous failure; anything else might run twice.
        let idempotent = ["Get", "List", "Describe", "Head"].contains { operation.hasPrefix($0) }
        switch svc.wireProtocol {
        case .json:
            print(try await client.json(svc, operation, body, idempotent: idempotent).serialized(pretty: true))
        case .query:
            var params: [(String, String)] = []
            for (k, v) in (body.object ?? [:]).sorted(by: { $0.key < $1.key }) {
                params.append((k, v.string ?? v.serialized()))
            }
            let xml = try await client.query(svc, operation, params, idempotent: idempotent)
            print(xmlToJSON(xml).serialized(pretty: true))
        case .restJSON:
            guard let method, let path else { throw CLIError("\(svc.name) is a REST service: give --method and --path") }
            let hasBody = !(body.object?.isEmpty ?? false)
            print(try await client.rest(svc, operation, method: method.uppercased(), path: path,
                                        body: hasBody ? body : nil, idempotent: idempotent).serialized(pretty: true))
        case .restXML:
            throw CLIError("\(svc.name) speaks REST-XML, which `call` does not encode")
        }
    }

    func xmlToJSON(_ node: XMLNode) -> JSON {
        if node.children.isEmpty { return .string(node.text) }
        var object: [String: JSON] = [:]
        for child in node.children {
            let value = xmlToJSON(child)
            if let existing = object[child.name] {
                if case .array(let a) = existing { object[child.name] = .array(a + [value]) }
                else { object[child.name] = .array([existing, value]) }
            } else {
                object[child.name] = value
            }
        }
        return .object(object)
    }
}
