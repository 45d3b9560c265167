import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing

/// Every command given something that is no readable checkpoint file answers with exit 2
/// and one line naming the path: never a trap, never a hang.
@Suite struct SpecialPathTests {
    /// A path that is not a readable regular file, made inside `run`.
    enum SpecialPath: String, CaseIterable, CustomStringConvertible {
        case directory, fifo, empty, missing, unreadable, danglingSymlink
        var description: String { rawValue }

        func make(in run: RunDirectory) throws -> String {
            let path = run.path("special-\(rawValue).ckpt")
            switch self {
            case .directory:
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            case .fifo:
                guard mkfifo(path, 0o644) == 0 else { throw CocoaError(.fileWriteUnknown) }
            case .empty:
                FileManager.default.createFile(atPath: path, contents: Data())
            case .missing:
                break
            case .unreadable:
                try run.save("special-\(rawValue).ckpt")
                try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
            case .danglingSymlink:
                try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: run.path("gone-target.ckpt"))
            }
            return path
        }
    }

    /// Each command with the special path at every file position it takes.
    static func invocations(special: String, good: String, output: String) -> [[String]] {
        [
            ["show", special], ["tree", special], ["tensors", special], ["tensors", special, "--stats"],
            ["get", special, "/"], ["callbacks", special], ["verify", special], ["sql", special, "SELECT 1"],
            ["diff", special, good], ["diff", good, special], ["convert", special, output],
        ]
    }

    @Test(arguments: SpecialPath.allCases)
    func everyCommandRefusesWithExit2NamingThePath(_ kind: SpecialPath) throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let good = try run.save("good.ckpt")
        let special = try kind.make(in: run)
        for arguments in Self.invocations(special: special, good: good, output: run.path("out.ckpt")) {
            let result = try runUnprivileged(arguments, readable: [good, special, run.url.path])
            #expect(result.status == 2, "\(arguments.joined(separator: " ")): status \(result.status), \(result.stderr)")
            #expect(result.stderr.hasPrefix("ckpt-inspect: \(special)"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): one line, got \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
            #expect(!FileManager.default.fileExists(atPath: run.path("out.ckpt")))
        }
    }

    @Test func lsOfAFileOrFIFOSaysNotADirectory() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        for kind in [SpecialPath.fifo, .empty, .missing] {
            let special = try kind.make(in: run)
            let result = try Inspector.executable.run(["ls", special], timeout: 20)
            #expect(result.status == 2, "\(kind): \(result.stderr)")
            #expect(result.stderr == "ckpt-inspect: \(special): not a directory\n")
        }
    }

    @Test func convertIntoADirectoryIsAnErrorAndWritesNothing() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let good = try run.save("good.ckpt")
        let target = try SpecialPath.directory.make(in: run)
        for format in ["cairn", "lightning", "safetensors"] {
            let result = try Inspector.executable.run(["convert", good, target, "--to", format], timeout: 20)
            #expect(result.status == 2, "\(format): \(result.stderr)")
            #expect(result.stderr.contains(target), "\(format): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
        }
    }

    @Test func versionAndEveryHelpStateTheExitContract() throws {
        let version = try Inspector.executable.run(["--version"], timeout: 20)
        #expect(version.status == 0)
        #expect(version.stdout == "\(cairnCheckpointEngineVersion)\n")
        for command in ["show", "tree", "tensors", "get", "callbacks", "diff", "verify", "sql", "ls", "convert"] {
            let help = try Inspector.executable.run([command, "--help"], timeout: 20)
            #expect(help.status == 0)
            #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").contains("2 on a usage or input error"), "\(command)")
        }
        let usage = try Inspector.executable.run(["show", "--no-such-flag", "x.ckpt"], timeout: 20)
        #expect(usage.status == 2)
    }

    /// Runs `ckpt-inspect` as `nobody` when the tests run as root, so a file without read
    /// permission really is unreadable to it; `readable` paths must stay reachable.
    func runUnprivileged(_ arguments: [String], readable: [String]) throws -> BuiltProduct.Result {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            return try Inspector.executable.run(arguments, timeout: 20)
        }
        // The scratch folder and the good file must be reachable for the other user.
        for path in readable where FileManager.default.fileExists(atPath: path) {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let permissions = (attributes[.posixPermissions] as? Int) ?? 0
            if permissions != 0 { chmod(path, mode_t(permissions | 0o055)) }
        }
        let setpriv = BuiltProduct(url: URL(fileURLWithPath: "/usr/bin/setpriv"))
        return try setpriv.run(["--reuid=65534", "--regid=65534", "--clear-groups", Inspector.executable.url.path] + arguments,
                               environment: ["TMPDIR": "/tmp"], timeout: 20)
    }
}
