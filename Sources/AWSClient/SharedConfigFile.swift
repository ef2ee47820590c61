import Foundation

/// The AWS shared `credentials` and `config` files (INI). In `config`, profiles are
/// `[profile NAME]` (except `[default]`); in `credentials` they are `[NAME]`.
/// Indented lines belong to a nested sub-section (e.g. `s3 =` settings) and are skipped.
public struct SharedConfigFile: Sendable {
    public enum Kind: String, Sendable, CustomStringConvertible {
        case credentials, config
        public var description: String { rawValue }
    }
    public let path: String
    public let profiles: [String: [String: String]]

    public init(path: String, kind: Kind, text: String) throws {
        self.path = path
        var profiles: [String: [String: String]] = [:]
        var current: String?
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if let first = line.first, first == " " || first == "\t" {
                guard current != nil else {
                    throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: lineNumber, reason: "indented line outside a section")
                }
                continue  // nested sub-section value
            }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: lineNumber, reason: "section header without ']'")
                }
                var name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if kind == .config {
                    if name.hasPrefix("profile ") || name.hasPrefix("profile\t") {
                        name = String(name.dropFirst(8)).trimmingCharacters(in: .whitespaces)
                    } else if name != "default" {
                        // sso-session, services, ...: not a profile; its settings go to a hidden section
                        profiles["\u{0}section:\(name)"] = [:]
                        current = "\u{0}section:\(name)"
                        continue
                    }
                }
                guard !name.isEmpty else {
                    throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: lineNumber, reason: "empty section name")
                }
                current = name
                if profiles[name] == nil { profiles[name] = [:] }
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: lineNumber, reason: "expected 'key = value'")
            }
            guard let section = current else {
                throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: lineNumber, reason: "setting outside a [section]")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // Inline comments need whitespace before '#' or ';' (as botocore).
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let r = value.range(of: marker) { value = String(value[..<r.lowerBound]).trimmingCharacters(in: .whitespaces) }
            }
            guard !key.isEmpty else {
                throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: lineNumber, reason: "empty key")
            }
            profiles[section, default: [:]][key] = value
        }
        self.profiles = profiles.filter { !$0.key.hasPrefix("\u{0}") }
    }

    /// Loads a file; a missing file is `nil` (that is normal), an unreadable one an error.
    /// Read through a file handle, so /dev/null and pipes read as the (empty) text they hold,
    /// as the AWS CLI reads them.
    public static func load(path: String, kind: Kind) throws -> SharedConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw AWSClientError.unreadableConfigFile(path: path, kind: kind) }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() ?? Data() else { throw AWSClientError.unreadableConfigFile(path: path, kind: kind) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AWSClientError.malformedConfigFile(path: path, kind: kind, line: 0, reason: "not UTF-8 text")
        }
        return try SharedConfigFile(path: path, kind: kind, text: text)
    }
}

/// The two shared files for one environment, and which profile is selected.
public struct SharedConfig: Sendable {
    public let credentialsFile: SharedConfigFile?
    public let configFile: SharedConfigFile?
    public let credentialsPath: String
    public let configPath: String
    /// The selected profile and where the choice came from.
    public let profile: String
    public let profileSource: String
    public let profileExplicit: Bool

    public init(environment: [String: String], profileOverride: String? = nil) throws {
        let home = environment["HOME"] ?? NSHomeDirectory()
        func expand(_ p: String) -> String { p.hasPrefix("~/") ? home + p.dropFirst(1) : p }
        credentialsPath = expand(environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "~/.aws/credentials")
        configPath = expand(environment["AWS_CONFIG_FILE"] ?? "~/.aws/config")
        if let p = profileOverride, !p.isEmpty {
            (profile, profileSource, profileExplicit) = (p, "--profile", true)
        } else if let p = environment["AWS_PROFILE"], !p.isEmpty {
            (profile, profileSource, profileExplicit) = (p, "AWS_PROFILE", true)
        } else if let p = environment["AWS_DEFAULT_PROFILE"], !p.isEmpty {
            (profile, profileSource, profileExplicit) = (p, "AWS_DEFAULT_PROFILE", true)
        } else {
            (profile, profileSource, profileExplicit) = ("default", "default", false)
        }
        credentialsFile = try SharedConfigFile.load(path: credentialsPath, kind: .credentials)
        configFile = try SharedConfigFile.load(path: configPath, kind: .config)
    }

    public var profileExists: Bool {
        credentialsFile?.profiles[profile] != nil || configFile?.profiles[profile] != nil
    }

    /// A setting of the selected profile: credentials file first, then config file.
    public func value(_ key: String) -> (value: String, path: String)? {
        if let v = credentialsFile?.profiles[profile]?[key], !v.isEmpty, let f = credentialsFile { return (v, f.path) }
        if let v = configFile?.profiles[profile]?[key], !v.isEmpty, let f = configFile { return (v, f.path) }
        return nil
    }

    /// An explicitly chosen profile must exist: a typo should not silently fall through.
    public func requireProfile() throws {
        if profileExplicit && !profileExists {
            throw AWSClientError.unknownProfile(profile: profile, source: profileSource,
                                                searched: [credentialsPath, configPath])
        }
    }
}
