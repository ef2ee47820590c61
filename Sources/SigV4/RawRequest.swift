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
        case strayCarriageReturn(String)
        case conflictingLength
        public var description: String {
            switch self {
            case .empty: return "the request is empty"
            case .badRequestLine(let l): return "malformed request line (want 'METHOD /path HTTP/1.1'): \(l)"
            case .badHeaderLine(let l): return "malformed header line (want 'Name: value'): \(l)"
            case .strayCarriageReturn(let l): return "header line with a CR that does not end the line (refused: it would smuggle an unsigned header): \(l)"
            case .conflictingLength: return "the request has both Content-Length and Transfer-Encoding (refused, RFC 9112 section 6.3)"
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
        // Lines are split on bytes: in a Swift String "\r\n" is one Character, so splitting the
        // decoded text on "\n" would leave CRLF files in one piece.
        var lines = bytes[0..<headEnd].split(separator: 0x0a, omittingEmptySubsequences: false).map { line -> String in
            String(decoding: line.last == 0x0d ? line.dropLast() : line, as: UTF8.self)
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        // A CR anywhere else would end the line on the wire while the signer saw one header:
        // an unsigned header smuggled past the signature.
        if let bad = lines.first(where: { $0.utf8.contains(0x0d) }) {
            throw lines.first == bad ? ParseError.badRequestLine(bad.debugDescription) : ParseError.strayCarriageReturn(bad.debugDescription)
        }
        guard let requestLine = lines.first, !requestLine.isEmpty else { throw ParseError.empty }

        guard let firstSpace = requestLine.firstIndex(of: " "),
              let lastSpace = requestLine.lastIndex(of: " "), firstSpace < lastSpace else {
            throw ParseError.badRequestLine(String(requestLine))
        }
        method = String(requestLine[..<firstSpace])
        version = String(requestLine[requestLine.index(after: lastSpace)...])
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        guard Self.isToken(method), version.hasPrefix("HTTP/"), !target.isEmpty else {
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
        let names = Set(headers.map { $0.name.lowercased() })
        if names.contains("content-length") && names.contains("transfer-encoding") { throw ParseError.conflictingLength }
        self.headers = headers
        body = Array(bytes[min(bodyStart, bytes.count)...])
    }

    /// An HTTP token (RFC 9110 section 5.6.2), as a method or header name must be.
    public static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
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
