import Foundation

/// Runs an executable to its end and reports its peak resident set size.
///
/// A child spawned straight from the test process inherits the test process's high-water
/// mark (Linux records the memory of the image an `exec` replaces), so a small Python
/// launcher starts the child and reads its `ru_maxrss` from `wait4`.
public struct MeasuredRun: Sendable {
    public var status: Int32
    /// Peak resident set size of the child, in KiB.
    public var maxResidentKiB: Int
    public var stdout: String
    public var stderr: String

    static let launcher = """
        import json, resource, subprocess, sys
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = child.communicate()
        print(json.dumps({"status": child.returncode, "maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                          "stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace")}))
        """

    public init(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 300) throws {
        let python = BuiltProduct(url: URL(fileURLWithPath: "/usr/bin/env"))
        let result = try python.run(["python3", "-c", Self.launcher, executable.path] + arguments, timeout: timeout)
        guard result.status == 0,
              let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let status = report["status"] as? Int, let maxrss = report["maxrss"] as? Int else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "python3 launcher failed: \(result.stderr)"])
        }
        // Negative: killed by that signal, reported as a shell would.
        self.status = Int32(status < 0 ? 128 - status : status)
        maxResidentKiB = maxrss
        stdout = report["stdout"] as? String ?? ""
        stderr = report["stderr"] as? String ?? ""
    }
}
