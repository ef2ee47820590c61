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

    /// A `--verbose` block (a call and its headers, one per line): AWS's answers are outside text.
    static func verbose(_ block: String) {
        info(dim(safeLines(block)))
    }

    static func error(_ message: String) {
        let prefix = colorEnabled ? "\u{1B}[31msecure-api: error:\u{1B}[0m " : "secure-api: error: "
        emit(STDERR_FILENO, prefix + safe(message) + "\n")
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

    /// Text from outside (IDs, kids, error_description, headers, AWS messages) made safe for a
    /// terminal: control characters (C0, DEL, C1: ESC sequences, CR overwrites) and bidi
    /// overrides are shown escaped, so nothing received can move the cursor, recolour, retitle
    /// or reorder what the user reads.
    static func safe(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00...0x1f, 0x7f...0x9f: out += String(format: "\\x%02x", scalar.value)
            case 0x202a...0x202e, 0x2066...0x2069: out += String(format: "\\u{%04x}", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// As `safe`, keeping line breaks: for multi-line text such as decoded token claims.
    static func safeLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { safe(String($0)) }.joined(separator: "\n")
    }

    static func dim(_ s: String) -> String { colorEnabled ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    static func green(_ s: String) -> String { colorEnabled ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    static func yellow(_ s: String) -> String { colorEnabled ? "\u{1B}[33m\(s)\u{1B}[0m" : s }
    static func red(_ s: String) -> String { colorEnabled ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
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
