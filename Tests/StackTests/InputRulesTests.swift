import Testing
@testable import Stack

struct InputRulesTests {
    @Test func generatedDomainPrefixesNeverHoldAReservedWord() throws {
        // About 1 draw in 1,250 of 16 random letters holds "aws": 20,000 draws would show it.
        for _ in 0..<20_000 {
            let prefix = DomainPrefix.generate()
            #expect(prefix.count == 16)
            try InputRules.checkDomainPrefix(prefix)
        }
    }

    @Test func reservedWordsInAGivenPrefixAreRefused() {
        for prefix in ["my-aws-app", "amazonian", "cognitodemo"] {
            #expect(throws: StackError.self) { try InputRules.checkDomainPrefix(prefix) }
        }
    }

    @Test func runtimeTableByDate() throws {
        #expect(throws: StackError.self) { try InputRules.checkRuntime("python3.7", today: "2026-12-02") }
        #expect(try InputRules.checkRuntime("python3.7", today: "2023-01-01") == nil)
        let warning = try InputRules.checkRuntime("python3.9", today: "2026-12-02")
        #expect(warning?.contains("deprecated since 2025-12-15") == true)
        #expect(throws: StackError.self) { try InputRules.checkRuntime("python3.9", today: "2027-02-01") }
        #expect(try InputRules.checkRuntime("python3.12", today: "2026-12-02") == nil)
        #expect(throws: StackError.self) { try InputRules.checkRuntime("nodejs20.x", today: "2026-12-02") }
        #expect(throws: StackError.self) { try InputRules.checkRuntime("python3.12\n", today: "2026-12-02") }
    }

    @Test func resourceServerNameIsDerivedWithinItsPattern() throws {
        let cases = ["https://hello.example.com": "hello.example.com", "HelloAPI": "HelloAPI",
                     "urn:example:api": "urn-example-api", "https://api.example.com/v1/": "api.example.com-v1",
                     "https://": "https", "!!!": "-"]
        for (identifier, name) in cases {
            let derived = InputRules.resourceServerName(forIdentifier: identifier)
            #expect(derived == name)
            try InputRules.resourceServerName.check(derived)
        }
    }

    @Test func secureURLsAreParsedNotPrefixMatched() throws {
        for ok in ["https://tenant.example.com/", "http://localhost:8083/callback", "http://127.0.0.1/cb", "HTTP://LOCALHOST/cb"] {
            try InputRules.checkSecureURL(ok, what: "callback URL", flag: "--callback-url", allowQuery: true)
        }
        for bad in ["http://localhost.evil.example/cb", "http://localhost@evil.example/cb", "http://127.0.0.1.nip.io/cb",
                    "http://example.com/cb", "ftp://localhost/cb", "https://example.com/cb#frag", "localhost/cb", "https:///cb"] {
            #expect(throws: StackError.self, "\(bad)") {
                try InputRules.checkSecureURL(bad, what: "callback URL", flag: "--callback-url", allowQuery: true)
            }
        }
        #expect(throws: StackError.self) {
            try InputRules.checkSecureURL("https://issuer.example.com/?x=1", what: "issuer", flag: "--issuer", allowQuery: false)
        }
    }

    @Test func controlCharactersAreRefusedAndNeverEchoed() {
        for name in ["a\rb", "a\nb", "a\u{1b}[31mb", "a\tb", "a\u{7f}b", "a\u{85}b"] {
            do {
                try InputRules.userPoolName.check(name)
                Issue.record("accepted \(name.debugDescription)")
            } catch {
                let text = "\(error)"
                #expect(text.contains("control character"))
                #expect(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) })
            }
        }
    }

    @Test func passwordIsBasicLatinAndAtMost256() throws {
        try InputRules.checkPassword("Corr3ct-Horse!", minimumLength: 8)
        try InputRules.checkPassword("Aa1!" + String(repeating: "x", count: 252), minimumLength: 8)
        for bad in ["Pässwörd-123A!", "Passw0rd!Ω", "Aa1!" + String(repeating: "x", count: 253), "Corr3ct\tHorse!"] {
            #expect(throws: StackError.self, "\(bad.prefix(20))") { try InputRules.checkPassword(bad, minimumLength: 8) }
        }
    }

    @Test func defaultConfigurationPasses() throws {
        let config = StackConfig(domainPrefix: "abcdefgh", domainPrefixGenerated: false)
        #expect(try InputRules.checkNew(config, today: "2026-12-02").isEmpty)
    }
}
