// swift-tools-version:6.0
import PackageDescription

// Layers (dependencies point down only), as in DESIGN.md:
//   secure-api (CLI) -> Stack / OAuth -> Services -> AWSClient -> SigV4 -> Crypto
//   AWSClient -> Transport (libcurl);  Crypto -> OpenSSL libcrypto
let package = Package(
    name: "secure-api",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "secure-api", targets: ["secure-api"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CCurlShim", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CCryptoShim", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "Crypto", dependencies: ["CCryptoShim"]),
        .target(name: "Transport", dependencies: ["CCurlShim"]),
        .target(name: "SigV4", dependencies: ["Crypto"]),
        .target(name: "AWSClient", dependencies: ["SigV4", "Transport", "Crypto"]),
        .target(name: "Services", dependencies: ["AWSClient", "Transport", "Crypto"]),
        .target(name: "Stack", dependencies: ["Services", "AWSClient", "Crypto"]),
        .target(name: "OAuth", dependencies: ["Transport", "Crypto", "AWSClient"]),
        .executableTarget(
            name: "secure-api",
            dependencies: [
                "Stack", "OAuth", "Services", "AWSClient", "SigV4", "Transport", "Crypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "AWSClientTests", dependencies: ["AWSClient"]),
        .testTarget(name: "OAuthTests", dependencies: ["OAuth"]),
        // The executor over fake resource kinds and an in-memory journal: no emulator, no network.
        .testTarget(name: "StackTests", dependencies: ["Stack", "Services", "AWSClient", "SigV4", "Transport"]),
    ],
    swiftLanguageModes: [.v6]
)
