/// A Lambda function's code: one Python file, zipped in memory at create time.
struct FunctionCode: Sendable {
    let fileName: String
    let handler: String
    let source: String

    func zip() -> [UInt8] { ZipArchive.stored([(fileName, Array(source.utf8))]) }

    /// The package to deploy: the embedded code, or (where the user may bring their own) the
    /// stack's `--code` with its `--handler`.
    func package(_ c: StackConfig, userCode: Bool) throws -> FunctionPackage {
        guard userCode, let path = c.codePath else { return FunctionPackage(zip: zip(), handler: userCode ? c.handler ?? handler : handler) }
        return try FunctionPackage.load(path, handler: c.handler ?? handler)
    }

    static let echo = FunctionCode(fileName: EchoFunctionCode.fileName, handler: EchoFunctionCode.handler, source: EchoFunctionCode.source)
    /// lambda/authorizer/authorizer.py, embedded by tools/embed_authorizer.py.
    static let authorizer = FunctionCode(fileName: AuthorizerSource.fileName, handler: AuthorizerSource.handler, source: AuthorizerSource.code)
}

/// The echo function's code.
enum EchoFunctionCode {
    static let fileName = "lambda_function.py"
    static let handler = "lambda_function.lambda_handler"
    static let source = """
        import json


        def lambda_handler(event, context):
            # API Gateway HTTP API, payload format 2.0: the JWT authorizer's verified claims
            # arrive in requestContext.authorizer.jwt.
            return {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps("hello world"),
            }

        """

    static func zip() -> [UInt8] { ZipArchive.stored([(fileName, Array(source.utf8))]) }
}

/// A minimal ZIP writer (entries stored, not compressed): all Lambda needs for one small file.
enum ZipArchive {
    static func stored(_ files: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        // 1980-01-01 00:00 in DOS format keeps the archive byte-for-byte reproducible.
        let dosTime: UInt16 = 0, dosDate: UInt16 = 0x21
        for file in files {
            let name = Array(file.name.utf8)
            let crc = CRC32.checksum(file.data)
            let offset = UInt32(out.count)
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(dosTime) + le16(dosDate)
            out += le32(crc) + le32(UInt32(file.data.count)) + le32(UInt32(file.data.count)) + le16(UInt16(name.count)) + le16(0)
            out += name + file.data
            central += le32(0x0201_4b50) + le16(0x0314) + le16(20) + le16(0) + le16(0) + le16(dosTime) + le16(dosDate)
            central += le32(crc) + le32(UInt32(file.data.count)) + le32(UInt32(file.data.count))
            central += le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0) + le16(0)
            central += le32(0o100644 << 16) + le32(offset) + name
        }
        let centralOffset = UInt32(out.count)
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(files.count)) + le16(UInt16(files.count))
        out += le32(UInt32(central.count)) + le32(centralOffset) + le16(0)
        return out
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
}

enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
