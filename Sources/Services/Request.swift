import AWSClient
import Crypto
import Foundation

/// One AWS call as a value, built once by a resource kind: the service sends it and `plan`
/// prints it, so the plan can never describe a call other than the one made.
public protocol ServiceRequest: Sendable {
    var service: AWSService { get }
    var operation: String { get }
    /// Its parameters as `plan` shows them, in AWS's member names, derived from what is sent;
    /// secrets and large values summarised.
    var parameters: [(String, String)] { get }
}

/// A call of a JSON or REST-JSON service: members in the URL path, and the body sent.
public protocol JSONServiceRequest: ServiceRequest {
    /// Members that go in the URL path (REST), as (AWS's member name, value).
    var pathMembers: [(String, String)] { get }
    /// The JSON body, exactly as sent.
    var body: JSON { get }
    /// What `plan` shows instead of a member's value (a secret, a blob); nil shows the value.
    func summary(of member: String) -> String?
}

extension JSONServiceRequest {
    public var pathMembers: [(String, String)] { [] }
    public func summary(of member: String) -> String? { nil }

    public var parameters: [(String, String)] {
        pathMembers + Self.flatten(body).map { ($0.0, summary(of: $0.0) ?? $0.1) }
    }

    /// Members as `Parent.Child = value`, keys sorted; a list of plain values joined with ", ",
    /// a list of objects as compact JSON.
    static func flatten(_ value: JSON, _ prefix: String = "") -> [(String, String)] {
        switch value {
        case .object(let o):
            return o.keys.sorted().flatMap { k in flatten(o[k] ?? .null, prefix.isEmpty ? k : "\(prefix).\(k)") }
        case .array(let a) where a.allSatisfy({ $0.object == nil && $0.array == nil }):
            return [(prefix, a.map(scalar).joined(separator: ", "))]
        case .array:
            return [(prefix, value.serialized())]
        default:
            return [(prefix, scalar(value))]
        }
    }

    static func scalar(_ v: JSON) -> String { v.string ?? v.serialized() }
}

/// A call of a Query service (IAM): the form parameters, exactly as sent.
public protocol QueryServiceRequest: ServiceRequest {
    var query: [(String, String)] { get }
}

extension QueryServiceRequest {
    public var parameters: [(String, String)] { query }
}

/// A deployment package as `plan` shows it: its size and hash, never its bytes.
public func zipSummary(_ zip: [UInt8]) -> String {
    "zip of \(zip.count) bytes, sha256 \(Data(Crypto.sha256(zip)).base64EncodedString())"
}
