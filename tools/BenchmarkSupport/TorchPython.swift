import Foundation

/// The Python the benchmarks compare against: `$CAIRN_TORCH_PYTHON`, else the venv
/// `tools/python-interop/ensure-venv.sh` makes (once, with a CPU torch) for the interop tests;
/// nil when neither is available.
public func torchPython() -> String? {
    if let chosen = ProcessInfo.processInfo.environment["CAIRN_TORCH_PYTHON"], !chosen.isEmpty { return chosen }
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../python-interop/ensure-venv.sh").standardized.path
    guard let result = try? runCapturingOutput(script, []), result.status == 0,
          let python = result.output.split(separator: "\n").last.map(String.init) else { return nil }
    return python
}

/// Runs `executable` to its end and returns its status and standard output (standard error is dropped).
public func runCapturingOutput(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
