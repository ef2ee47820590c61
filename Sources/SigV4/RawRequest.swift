/// A raw HTTP/1.1 request in the text form of AWS's SigV4 test suite (`request.txt`):
/// a request line, header lines (folded continuation lines allowed), a blank line, a body.
/// `secure-api sign` reads this form and writes the signed request back in it.
public struct RawHTTPRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String?
    public var version: String
    public var headers: [HeaderField]
    public var body: [UInt8]

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case empty
        case badRequestLine(String)
        case badHeaderLine(String)
        public var description: String {
            switch self {
            case .empty: return "the request is empty"
            case .badRequestLine(let l): return "malformed request line (want 'METHOD /path HTTP/1.1'): \(l)"
            case .badHeaderLine(let l): return "malformed header line (want 'Name: value'): \(l)"
            }
        }
    }

    public init(method: String, path: String, query: String?, version: String = "HTTP/1.1",
                headers: [HeaderField], body: [UInt8]) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
    }

    public init(parsing bytes: [UInt8]) throws {
        // Split head and body at the first empty line (LF or CRLF line endings).
        var headEnd = bytes.count
        var bodyStart = bytes.count
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0a {
                var j = i + 1
                if j < bytes.count && bytes[j] == 0x0d { j += 1 }
                if j < bytes.count && bytes[j] == 0x0a {
                    headEnd = i
                    bodyStart = j + 1
                    break
                }
            }
            i += 1
        }
        let head = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let requestLine = lines.first, !requestLine.isEmpty else { throw ParseError.empty }

        guard let firstSpace = requestLine.firstIndex(of: " "),
              let lastSpace = requestLine.lastIndex(of: " "), firstSpace < lastSpace else {
            throw ParseError.badRequestLine(String(requestLine))
        }
        method = String(requestLine[..<firstSpace])
        version = String(requestLine[requestLine.index(after: lastSpace)...])
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        guard !method.isEmpty, version.hasPrefix("HTTP/"), !target.isEmpty else {
            throw ParseError.badRequestLine(String(requestLine))
        }
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            query = String(target[target.index(after: q)...])
        } else {
            path = String(target)
            query = nil
        }

        var headers: [HeaderField] = []
        for line in lines.dropFirst() {
            if let first = line.first, first == " " || first == "\t" {
                // Obsolete line folding: the line continues the previous header's value.
                guard !headers.isEmpty else { throw ParseError.badHeaderLine(String(line)) }
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw ParseError.badHeaderLine(String(line))
            }
            headers.append(HeaderField(String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        self.headers = headers
        body = Array(bytes[min(bodyStart, bytes.count)...])
    }

    public var signingRequest: SigningRequest {
        SigningRequest(method: method, path: path, query: query, headers: headers, body: body)
    }

    public var target: String {
        guard let query else { return path }
        return path + "?" + query
    }

    /// The request with a signing result applied, in the suite's signed-request text form.
    public func applying(_ result: SigningResult) -> RawHTTPRequest {
        var copy = self
        let replaced = Set(result.addedHeaders.map { $0.name.lowercased() })
        copy.headers = headers.filter { !replaced.contains($0.name.lowercased()) } + result.addedHeaders
        if !result.addedQueryItems.isEmpty {
            let added = result.addedQueryItems.joined(separator: "&")
            if let q = query, !q.isEmpty { copy.query = q + "&" + added } else { copy.query = added }
        }
        return copy
    }

    public func render() -> [UInt8] {
        var text = "\(method) \(target) \(version)\n"
        for h in headers { text += "\(h.name):\(h.value)\n" }
        text += "\n"
        return Array(text.utf8) + body
    }
}
