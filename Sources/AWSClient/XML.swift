/// A minimal XML element tree for AWS Query-protocol responses (IAM, STS): elements, text,
/// the five predefined entities and numeric references. Attributes, comments, processing
/// instructions and DOCTYPE are skipped; that is all those responses use.
public struct XMLNode: Sendable, Equatable {
    public var name: String
    public var text: String
    public var children: [XMLNode]

    /// First descendant (depth-first) with this local name.
    public func find(_ name: String) -> XMLNode? {
        for child in children {
            if child.name == name { return child }
            if let hit = child.find(name) { return hit }
        }
        return nil
    }

    /// All direct children with this name.
    public func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }

    /// Text of the first descendant with this name.
    public func value(_ name: String) -> String? { find(name)?.text }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var reason: String
        public var description: String { "invalid XML: \(reason)" }
    }

    public init(name: String, text: String = "", children: [XMLNode] = []) {
        self.name = name
        self.text = text
        self.children = children
    }

    public init(parsing bytes: [UInt8]) throws {
        var p = XMLParserState(bytes: bytes)
        guard let root = try p.document() else { throw ParseError(reason: "no root element") }
        self = root
    }
}

private struct XMLParserState {
    let bytes: [UInt8]
    var i = 0

    func fail(_ r: String) -> XMLNode.ParseError { XMLNode.ParseError(reason: "\(r) at byte \(i)") }

    mutating func document() throws -> XMLNode? {
        var stack: [XMLNode] = []
        var root: XMLNode?
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<") {
                if startsWith("<?") { try skip(past: "?>"); continue }
                if startsWith("<!--") { try skip(past: "-->"); continue }
                if startsWith("<![CDATA[") {
                    i += 9
                    let start = i
                    try skip(past: "]]>")
                    guard !stack.isEmpty else { throw fail("text outside the root element") }
                    stack[stack.count - 1].text += String(decoding: bytes[start..<(i - 3)], as: UTF8.self)
                    continue
                }
                if startsWith("<!") { try skip(past: ">"); continue }
                if startsWith("</") {
                    i += 2
                    let name = readName()
                    try skip(past: ">")
                    guard var node = stack.popLast(), localName(node.name) == localName(name) else {
                        throw fail("mismatched closing tag </\(name)>")
                    }
                    node.name = localName(node.name)
                    if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
                    continue
                }
                i += 1
                let name = readName()
                guard !name.isEmpty else { throw fail("empty tag name") }
                // Skip attributes, honouring quotes.
                var selfClosing = false
                var quote: UInt8 = 0
                while i < bytes.count {
                    let c = bytes[i]
                    if quote != 0 { if c == quote { quote = 0 } }
                    else if c == 0x22 || c == 0x27 { quote = c }
                    else if c == UInt8(ascii: ">") { selfClosing = i > 0 && bytes[i - 1] == UInt8(ascii: "/"); break }
                    i += 1
                }
                guard i < bytes.count else { throw fail("unterminated tag <\(name)") }
                i += 1
                let node = XMLNode(name: localName(name))
                guard stack.count < 100 else { throw fail("elements nested too deep") }
                if selfClosing {
                    if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
                } else {
                    stack.append(node)
                }
            } else {
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "<") { i += 1 }
                let raw = String(decoding: bytes[start..<i], as: UTF8.self)
                if stack.isEmpty {
                    guard raw.allSatisfy({ $0.isWhitespace }) else { throw fail("text outside the root element") }
                } else {
                    stack[stack.count - 1].text += decodeEntities(raw)
                }
            }
        }
        guard stack.isEmpty else { throw fail("unclosed element <\(stack.last?.name ?? "")>") }
        if var r = root { r.trimTexts(); return r }
        return nil
    }

    func startsWith(_ s: String) -> Bool {
        let b = Array(s.utf8)
        return i + b.count <= bytes.count && Array(bytes[i..<i + b.count]) == b
    }

    mutating func skip(past s: String) throws {
        let b = Array(s.utf8)
        while i + b.count <= bytes.count {
            if Array(bytes[i..<i + b.count]) == b { i += b.count; return }
            i += 1
        }
        throw fail("expected '\(s)'")
    }

    mutating func readName() -> String {
        let start = i
        while i < bytes.count, !" \t\r\n/>".utf8.contains(bytes[i]) { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    func localName(_ n: String) -> String {
        if let colon = n.lastIndex(of: ":") { return String(n[n.index(after: colon)...]) }
        return n
    }

    func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: UInt32?
                if entity.hasPrefix("#x") { scalar = UInt32(entity.dropFirst(2), radix: 16) }
                else if entity.hasPrefix("#") { scalar = UInt32(entity.dropFirst(1)) }
                if let v = scalar, let u = Unicode.Scalar(v) { out.unicodeScalars.append(u) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        out += rest
        return out
    }
}

extension XMLNode {
    fileprivate mutating func trimTexts() {
        if !children.isEmpty && text.allSatisfy({ $0.isWhitespace }) { text = "" }
        for k in children.indices { children[k].trimTexts() }
    }
}
