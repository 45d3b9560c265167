// swift-tools-version:6.0
import PackageDescription

// Dependencies run one way: CairnTensor knows nothing of the others, and
// CairnCheckpoint knows nothing of the tensor engine or the trainer.
// Linux only: the engines call Glibc directly and use Synchronization's Mutex, so no
// Apple platform is declared until a Darwin path exists.
let package = Package(
    name: "Cairn",
    products: [
        .library(name: "Cairn", targets: ["Cairn"]),
        .library(name: "CairnTensor", targets: ["CairnTensor"]),
        .library(name: "CairnCheckpoint", targets: ["CairnCheckpoint"]),
        .library(name: "CairnNN", targets: ["CairnNN"]),
        .library(name: "CairnOptim", targets: ["CairnOptim"]),
        .library(name: "CairnData", targets: ["CairnData"]),
        .library(name: "CairnTrainer", targets: ["CairnTrainer"]),
        .library(name: "CairnInterop", targets: ["CairnInterop"]),
        .library(name: "CairnExamples", targets: ["CairnExamples"]),
        .executable(name: "cairn", targets: ["CairnCommand"]),
        .executable(name: "ckpt-inspect", targets: ["CkptInspect"]),
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
        .target(
            name: "CairnTensor",
            dependencies: ["CCairnKernels", .product(name: "OrderedCollections", package: "swift-collections")]
        ),

        // MARK: Modules, optimizers, data (never depend on the checkpoint engine)
        .target(
            name: "CairnNN",
            dependencies: ["CairnTensor", .product(name: "OrderedCollections", package: "swift-collections")]
        ),
        .target(name: "CairnOptim", dependencies: ["CairnNN"]),
        .target(name: "CairnData", dependencies: ["CairnTensor", .product(name: "OrderedCollections", package: "swift-collections")]),

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

        // MARK: Tensors in checkpoints (the only module that knows both engines)
        .target(
            name: "CairnTensorCheckpoint",
            dependencies: ["CairnTensor", "CairnCheckpoint", .product(name: "OrderedCollections", package: "swift-collections")]
        ),

        // MARK: Trainer (Lightning's loops, callbacks and hooks over every engine)
        .target(
            name: "CairnTrainer",
            dependencies: ["CairnTensor", "CairnNN", "CairnOptim", "CairnData", "CairnCheckpoint", "CairnTensorCheckpoint", "CSQLite",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "OrderedCollections", package: "swift-collections")]
        ),

        // MARK: Examples (the models `cairn` trains, their data as package resources)
        .target(
            name: "CairnExamples",
            dependencies: ["CairnTensor", "CairnNN", "CairnOptim", "CairnData", "CairnTrainer"],
            resources: [.copy("Resources/digits.csv"), .copy("Resources/fortunes.txt")]
        ),

        // MARK: Umbrella and command-line tools
        .target(
            name: "Cairn",
            dependencies: ["CairnTensor", "CairnNN", "CairnOptim", "CairnData", "CairnCheckpoint", "CairnTensorCheckpoint",
                           "CairnTrainer", "CairnInterop", "CairnExamples",
                           .product(name: "OrderedCollections", package: "swift-collections")]
        ),
        .executableTarget(
            name: "CairnCommand",
            dependencies: [
                "Cairn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "CkptInspect",
            dependencies: [
                "CairnCheckpoint",
                "CairnInterop",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Benchmarks (run in release mode: see tools/README.md)
        // Finds the Python with torch that benchmarks compare against.
        .target(name: "BenchmarkSupport", path: "tools/BenchmarkSupport"),
        .executableTarget(name: "MatmulBenchmark", dependencies: ["CairnTensor", "CCairnKernels"], path: "tools/MatmulBenchmark"),
        .executableTarget(name: "TensorBenchmark", dependencies: ["CairnTensor", "CCairnKernels"], path: "tools/TensorBenchmark"),
        .executableTarget(name: "CheckpointBenchmark", dependencies: ["CairnCheckpoint", "BenchmarkSupport"], path: "tools/CheckpointBenchmark"),
        .executableTarget(name: "MLPBenchmark", dependencies: ["CairnNN", "CairnOptim", "CairnData", "BenchmarkSupport"], path: "tools/MLPBenchmark"),
        .executableTarget(name: "TrainerBenchmark", dependencies: ["CairnTrainer", "CairnCheckpoint", "CairnNN", "CairnOptim", "CairnData", "CairnTensor"], path: "tools/TrainerBenchmark"),
        .executableTarget(name: "InteropBenchmark", dependencies: ["BenchmarkSupport"], path: "tools/InteropBenchmark"),
        .executableTarget(name: "LMBenchmark", dependencies: ["CairnExamples", "CairnNN", "CairnOptim", "CairnTensor", "BenchmarkSupport"],
                          path: "tools/LMBenchmark"),
        // Run by CairnCheckpointTests' crash test, which SIGKILLs it mid-save.
        .executableTarget(name: "CheckpointCrashWriter", dependencies: ["CairnCheckpoint"], path: "tools/CheckpointCrashWriter"),

        // Built with -sanitize=fuzzer by tools/fuzz-interop.sh; a plain build replays inputs.
        .executableTarget(name: "InteropFuzzer", dependencies: ["CairnCheckpoint", "CairnInterop"], path: "tools/InteropFuzzer"),

        // MARK: Tests
        // Runs built executables (cairn, ckpt-inspect, the crash writer) as real subprocesses.
        .target(name: "CairnTestSupport", path: "Tests/CairnTestSupport"),
        .testTarget(name: "CairnTensorTests", dependencies: ["CairnTensor", "CCairnKernels"]),
        .testTarget(name: "CairnCheckpointTests", dependencies: ["CairnCheckpoint", "CairnTestSupport"]),
        .testTarget(name: "CairnNNTests", dependencies: ["CairnNN"]),
        .testTarget(name: "CairnOptimTests", dependencies: ["CairnOptim", "CairnData"]),
        .testTarget(name: "CairnDataTests", dependencies: ["CairnData"]),
        .testTarget(name: "CairnTests", dependencies: ["Cairn"]),
        .testTarget(name: "CairnCommandTests", dependencies: ["Cairn", "CairnCommand", "CairnTestSupport"]),
        .testTarget(name: "CairnTrainerTests", dependencies: ["CairnTrainer", "CairnExamples"]),
        .testTarget(name: "CairnExamplesTests", dependencies: ["CairnExamples", "CairnTrainer"]),
        // Runs the built ckpt-inspect; the dependency makes `swift test` build it first.
        .testTarget(name: "CkptInspectTests", dependencies: ["CairnCheckpoint", "CairnInterop", "CkptInspect", "CairnTestSupport"]),
        .testTarget(name: "CairnInteropTests", dependencies: ["CairnInterop", "CairnCheckpoint", "CairnTestSupport"]),
    ]
)
