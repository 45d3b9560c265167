// swift-tools-version:6.0
import PackageDescription

// Dependencies run one way: CairnTensor knows nothing of the others, and
// CairnCheckpoint knows nothing of the tensor engine or the trainer.
let package = Package(
    name: "Cairn",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Cairn", targets: ["Cairn"]),
        .library(name: "CairnTensor", targets: ["CairnTensor"]),
        .library(name: "CairnCheckpoint", targets: ["CairnCheckpoint"]),
        .library(name: "CairnInterop", targets: ["CairnInterop"]),
        .executable(name: "cairn", targets: ["CairnCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // MARK: Tensor engine
        .target(name: "CCairnKernels"),
        .target(name: "CairnTensor", dependencies: ["CCairnKernels"]),

        // MARK: Checkpoint engine
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "CairnCheckpoint",
            dependencies: [
                "CSQLite",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Interop with safetensors and PyTorch checkpoints
        .target(
            name: "CairnInterop",
            dependencies: [
                "CairnCheckpoint",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),

        // MARK: Umbrella and command-line tools
        .target(name: "Cairn", dependencies: ["CairnTensor", "CairnCheckpoint", "CairnInterop"]),
        .executableTarget(
            name: "CairnCommand",
            dependencies: [
                "Cairn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Benchmarks (run in release mode: see tools/README.md)
        .executableTarget(name: "MatmulBenchmark", dependencies: ["CairnTensor", "CCairnKernels"], path: "tools/MatmulBenchmark"),
        .executableTarget(name: "TensorBenchmark", dependencies: ["CairnTensor", "CCairnKernels"], path: "tools/TensorBenchmark"),
        .executableTarget(name: "CheckpointBenchmark", dependencies: ["CairnCheckpoint"], path: "tools/CheckpointBenchmark"),
        // Run by CairnCheckpointTests' crash test, which SIGKILLs it mid-save.
        .executableTarget(name: "CheckpointCrashWriter", dependencies: ["CairnCheckpoint"], path: "tools/CheckpointCrashWriter"),

        // MARK: Tests
        .testTarget(name: "CairnTensorTests", dependencies: ["CairnTensor", "CCairnKernels"]),
        .testTarget(name: "CairnCheckpointTests", dependencies: ["CairnCheckpoint"]),
        .testTarget(name: "CairnInteropTests", dependencies: ["CairnInterop", "CairnCheckpoint"]),
    ]
)
