import AWSClient

/// "Not found" — one predicate per service's way of saying it (on delete it means success).
public enum NotFound {
    /// Each service's code for "no such resource" (also when the parent it lives in is gone).
    /// Only these count: any other answer, a bare 404 from something that is not the service
    /// among them, is an error, never "already gone" (which would drop a record from state).
    public static func codes(service: String) -> Set<String> {
        switch service {
        case "cognito-idp", "lambda", "logs": return ["ResourceNotFoundException"]
        case "apigateway": return ["NotFoundException"]
        case "iam": return ["NoSuchEntity"]
        default: return []
        }
    }
}

extension JSON {
    /// A required string field of an AWS answer; a missing one is a malformed response.
    func required(_ key: String, _ service: String, _ operation: String) throws -> String {
        guard let v = self[key]?.string, !v.isEmpty else {
            throw AWSClientError.malformedResponse(service: service, operation: operation, reason: "missing '\(key)'")
        }
        return v
    }

    func requiredObject(_ key: String, _ service: String, _ operation: String) throws -> JSON {
        guard let v = self[key], case .object = v else {
            throw AWSClientError.malformedResponse(service: service, operation: operation, reason: "missing object '\(key)'")
        }
        return v
    }

    public static func strings(_ values: [String]) -> JSON { .array(values.map { .string($0) }) }

    public static func stringMap(_ values: [String: String]) -> JSON { .object(values.mapValues { .string($0) }) }
}

/// Tag set every taggable resource of a stack carries.
public typealias Tags = [String: String]
