import Foundation

/// Output conventions: results on stdout, diagnostics on stderr, colour only on a TTY and
/// never with NO_COLOR.
enum Console {
    static let colorEnabled: Bool = {
        ProcessInfo.processInfo.environment["NO_COLOR"] == nil && isatty(STDERR_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }()

    static func out(_ line: String) {
        emit(STDOUT_FILENO, line + "\n")
    }

    static func info(_ line: String) {
        emit(STDERR_FILENO, line + "\n")
    }

    static func error(_ message: String) {
        let prefix = colorEnabled ? "\u{1B}[31msecure-api: error:\u{1B}[0m " : "secure-api: error: "
        emit(STDERR_FILENO, prefix + message + "\n")
    }

    private static let writeLock = NSLock()

    /// Writes whole lines with write(2): nothing waits in a buffer (a killed run's lines are
    /// already out), concurrent blocks never interleave, and a reader that went away (EPIPE,
    /// SIGPIPE is ignored) only loses the output: a closed pipe never stops a run halfway.
    static func emit(_ fd: Int32, _ text: String) { emit(fd, Array(text.utf8)) }

    static func emit(_ fd: Int32, _ bytes: [UInt8]) {
        writeLock.lock()
        defer { writeLock.unlock() }
        fflush(nil)  // what print() left in stdio's buffers goes first
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }

    static func dim(_ s: String) -> String { colorEnabled ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    static func green(_ s: String) -> String { colorEnabled ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    static func yellow(_ s: String) -> String { colorEnabled ? "\u{1B}[33m\(s)\u{1B}[0m" : s }
    static func red(_ s: String) -> String { colorEnabled ? "\u{1B}[31m\(s)\u{1B}[0m" : s }

    /// Text from outside (IDs, attribute values) with control characters escaped, so it can
    /// never move the cursor or recolour the terminal.
    static func escaped(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value) {
                out += String(format: "\\u{%x}", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// One line for any error: our error types describe themselves; others fall back to their
/// localized description.
func describe(_ error: Error) -> String {
    "\(error)".replacingOccurrences(of: "\n", with: " ")
}

/// Errors of the CLI layer itself.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}
