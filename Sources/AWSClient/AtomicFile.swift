import Foundation

/// Writes a private file so that a reader (or a crash) sees the old content or the new, never
/// a mix: temp file (O_EXCL, no symlinks), fsync, mode 0600, rename, fsync of the directory.
/// state.json and the token cache both go through here.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func write(_ bytes: [UInt8], to link: String) throws {
        func fail(_ what: String) -> WriteError { WriteError(description: "\(what): \(String(cString: strerror(errno)))") }
        let path = try resolvingSymlink(link)
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = "\(path).tmp.\(getpid())"
        unlink(tmp)  // a leftover of a killed run with our pid; O_EXCL below refuses anything else
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fail("cannot write \(tmp)") }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { let e = fail("cannot write \(tmp)"); close(fd); unlink(tmp); throw e }
            written += n
        }
        _ = fchmod(fd, 0o600)
        guard fsync(fd) == 0 else { let e = fail("fsync \(tmp)"); close(fd); unlink(tmp); throw e }
        close(fd)
        guard rename(tmp, path) == 0 else { let e = fail("cannot replace \(path)"); unlink(tmp); throw e }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// A path that is a symbolic link is written through to its target, in the target's
    /// directory (so the rename stays atomic and the link stays a link); a dangling link is refused.
    public static func resolvingSymlink(_ path: String) throws -> String {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return path }
        guard let resolved = realpath(path, nil) else {
            throw WriteError(description: "\(path) is a symbolic link whose target cannot be resolved (\(String(cString: strerror(errno)))): refusing to replace the link")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
