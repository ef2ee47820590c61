import Crypto
import Foundation

/// A function's deployment package: the user's `--code` (a directory, zipped reproducibly, or a
/// .zip as is) or the embedded code. Its hash is what Lambda reports as CodeSha256, so a code
/// change is seen by comparing hashes, never by keeping the code.
public struct FunctionPackage: Sendable {
    public let zip: [UInt8]
    public let handler: String

    /// base64 of SHA-256 of the zip: Lambda's CodeSha256.
    public var sha256: String { Data(Crypto.sha256(zip)).base64EncodedString() }

    /// Lambda takes at most 50 MB zipped in a direct upload.
    static let maxZipBytes = 50 * 1024 * 1024

    /// Reads `path`: a .zip file as it is, or a directory zipped with its files in sorted order,
    /// stored, with fixed dates, so the same tree always gives the same hash.
    public static func load(_ path: String, handler: String) throws -> FunctionPackage {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw StackError.invalidConfig("--code \(path): no such file or directory")
        }
        if !isDirectory.boolValue {
            guard path.lowercased().hasSuffix(".zip") else { throw StackError.invalidConfig("--code \(path): give a directory or a .zip file") }
            guard let data = FileManager.default.contents(atPath: path) else { throw StackError.invalidConfig("--code \(path): cannot read it") }
            guard data.count <= maxZipBytes else { throw StackError.invalidConfig("--code \(path): over Lambda's 50 MB limit for a direct upload") }
            guard data.starts(with: [0x50, 0x4b]) else { throw StackError.invalidConfig("--code \(path): not a zip file") }
            return FunctionPackage(zip: Array(data), handler: handler)
        }
        let root = URL(fileURLWithPath: path).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey]) else {
            throw StackError.invalidConfig("--code \(path): cannot list it")
        }
        var files: [(name: String, data: [UInt8])] = []
        var total = 0
        for case let url as URL in walker {
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            // Links could point outside the tree: not followed, not packed.
            guard values?.isRegularFile == true, values?.isSymbolicLink != true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if relative.split(separator: "/").contains(where: { $0 == "__pycache__" || $0.hasPrefix(".") }) { continue }
            guard let data = FileManager.default.contents(atPath: url.path) else { throw StackError.invalidConfig("--code: cannot read \(relative)") }
            total += data.count
            guard total <= maxZipBytes else { throw StackError.invalidConfig("--code \(path): over Lambda's 50 MB limit for a direct upload") }
            files.append((relative, Array(data)))
        }
        guard !files.isEmpty else { throw StackError.invalidConfig("--code \(path): the directory has no files") }
        // The zip writer's entry counts are 16-bit (no ZIP64): more files need a .zip of your own.
        guard files.count < 65_535 else { throw StackError.invalidConfig("--code \(path): more than 65534 files; give a .zip instead") }
        files.sort { $0.name < $1.name }
        return FunctionPackage(zip: ZipArchive.stored(files), handler: handler)
    }
}
