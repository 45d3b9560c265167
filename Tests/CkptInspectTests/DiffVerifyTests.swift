import CairnTestSupport
import CairnCheckpoint
import Foundation
import Testing

@Suite struct DiffVerifyTests {
    @Test func diffExitCodesFollowDiff() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let base = try run.save("base.ckpt")
        // Same content, different chunking: equal, and compared by checksum only.
        let same = try run.save("same.ckpt", chunkSize: 7)
        #expect(try Inspector.run(["diff", base, same]).status == 0)

        let tensor = try run.save("tensor.ckpt", Fixture.checkpoint(weightShift: 0.5))
        let tensorDiff = try Inspector.run(["diff", base, tensor])
        #expect(tensorDiff.status == 1)
        #expect(tensorDiff.stdout.contains("/state_dict/layer.weight: max |Δ| 0.5"))
        #expect(tensorDiff.stdout.contains("16 of 16 elements differ"))

        let callback = try run.save("callback.ckpt", Fixture.checkpoint(batches: 301))
        let (status, document) = try Inspector.json(["diff", base, callback])
        #expect(status == 1)
        let differences = try #require((document as? [String: Any])?["differences"] as? [[String: Any]])
        #expect(differences.count == 1)
        #expect(differences.first?["path"] as? String == "/callbacks/Counter<\"what\":\"batches\">/count")
        #expect(differences.first?["old"] as? Int == 300)
        #expect(differences.first?["new"] as? Int == 301)
    }

    @Test func diffReportsStructuralChanges() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let base = try run.save("base.ckpt")
        guard case var .dictionary(root) = Fixture.checkpoint(), case var .dictionary(weights)? = root["state_dict"] else {
            Issue.record("fixture is not a dictionary")
            return
        }
        weights["layer.bias"] = .tensor(CheckpointTensor(float32: [0, 1, 2, 3, 4, 5], shape: [6]))
        weights["half"] = .tensor(CheckpointTensor(float32: [1, -2, 3], shape: [3]))
        weights["extra"] = .int(1)
        weights["marker"] = nil
        root["state_dict"] = .dictionary(weights)
        root["epoch"] = .string("two")
        let changed = try run.save("changed.ckpt", .dictionary(root))
        let (status, document) = try Inspector.json(["diff", base, changed])
        #expect(status == 1)
        let differences = try #require((document as? [String: Any])?["differences"] as? [[String: Any]])
        let changes = Dictionary(differences.map { ($0["path"] as? String ?? "", $0["change"] as? String ?? "") }, uniquingKeysWith: { $1 })
        #expect(changes == [
            "/epoch": "kind", "/state_dict/layer.bias": "shape", "/state_dict/half": "dtype",
            "/state_dict/marker": "removed", "/state_dict/extra": "added",
        ])
    }

    @Test func diffOnlyIgnoreAndTolerances() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let base = try run.save("base.ckpt")
        let other = try run.save("other.ckpt", Fixture.checkpoint(step: 301, weightShift: 0.001))
        let onlyWeights = try Inspector.run(["diff", base, other, "--only", "/state_dict/layer.weight"])
        #expect(onlyWeights.status == 1)
        #expect(onlyWeights.stdout.split(separator: "\n").count == 2)
        let tolerated = try Inspector.run(["diff", base, other, "--only", "/state_dict/layer.weight", "--atol", "0.01"])
        #expect(tolerated.status == 0)
        // |Δ| = 0.001 against rtol·|b| with b up to 3.75: only the elements near zero differ.
        let relative = try Inspector.run(["diff", base, other, "--only", "/state_dict/layer.weight", "--rtol", "0.004"])
        #expect(relative.stdout.contains("of 16 elements differ"))
        #expect(!relative.stdout.contains("16 of 16"))
        let ignored = try Inspector.run([
            "diff", base, other, "--ignore", "/state_dict", "--ignore", "/optimizer_states", "--ignore", "/global_step",
        ])
        #expect(ignored.status == 0)
        #expect(ignored.stdout == "no differences\n")
    }

    @Test func callbackClassNameSelectsEveryStateKeyOfThatClass() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let base = try run.save("base.ckpt")
        let other = try run.save("other.ckpt", Fixture.checkpoint(batches: 301, score: 0.2))
        let all = try Inspector.run(["diff", base, other])
        #expect(all.status == 1)
        #expect(all.stdout.contains("ModelCheckpoint{") && all.stdout.contains("Counter<"))

        let withoutCheckpoint = try Inspector.run(["diff", base, other, "--ignore", "/callbacks/ModelCheckpoint"])
        #expect(withoutCheckpoint.status == 1)
        #expect(!withoutCheckpoint.stdout.contains("ModelCheckpoint"))
        #expect(withoutCheckpoint.stdout.contains("Counter<"))

        let neither = try Inspector.run(["diff", base, other, "--ignore", "/callbacks/ModelCheckpoint", "--ignore", "/callbacks/Counter"])
        #expect(neither.status == 0, "\(neither.stdout)")

        let onlyCounter = try Inspector.run(["diff", base, other, "--only", "/callbacks/Counter"])
        #expect(onlyCounter.status == 1)
        #expect(!onlyCounter.stdout.contains("ModelCheckpoint"))
        // A class name must be whole: a prefix of it names nothing.
        let partial = try Inspector.run(["diff", base, other, "--only", "/callbacks/Model"])
        #expect(partial.status == 0)
        // The full state key still names that one instance.
        let exact = try Inspector.run(["diff", base, other, "--ignore", "/callbacks/\(Fixture.checkpointKey)", "--ignore", "/callbacks/Counter"])
        #expect(exact.status == 0)
    }

    @Test func verifyNamesTheDamagedTensor() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let good = try run.save("good.ckpt")
        let bad = try run.save("bad.ckpt", chunkSize: 1 << 20)
        let places = try damage(URL(fileURLWithPath: bad), where: Data(Fixture.markerBytes), atOffset: 10, mask: 0xFF)
        #expect(places >= 1, "marker chunk not found in the file")

        #expect(try Inspector.run(["verify", good]).status == 0)
        let result = try Inspector.run(["verify", good, bad])
        #expect(result.status == 1)
        #expect(result.stdout.contains("good.ckpt: OK"))
        #expect(result.stdout.contains("bad.ckpt: BAD"))
        #expect(result.stdout.contains("/state_dict/marker: sha256 mismatch"))
        let (_, document) = try Inspector.json(["verify", bad])
        let files = try #require((document as? [String: Any])?["files"] as? [[String: Any]])
        let problems = try #require(files.first?["problems"] as? [[String: Any]])
        #expect(problems.map { $0["path"] as? String } == ["/state_dict/marker"])

        // Commands that describe structure read no tensor bytes, so the damage goes unnoticed.
        for command in ["show", "tree", "tensors", "callbacks"] {
            #expect(try Inspector.run([command, bad]).status == 0, "\(command)")
        }
        // Commands that read bytes check them.
        for arguments in [["tensors", bad, "--stats"], ["get", bad, "/state_dict/marker"]] {
            let result = try Inspector.run(arguments)
            #expect(result.isOneLineError && result.stderr.contains("sha256 mismatch"), "\(arguments): \(result.stderr)")
        }
        // The stored checksums agree, so diff compares the damaged tensor without reading it.
        #expect(try Inspector.run(["diff", good, bad]).status == 0)
        let changed = try run.save("changed.ckpt", Fixture.checkpoint(step: 301), chunkSize: 1 << 20)
        #expect(try Inspector.run(["diff", changed, bad, "--only", "/state_dict/bn.num_batches_tracked"]).status == 1)
    }

    @Test func errorsAreOneLineAndExitTwo() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let notCheckpoint = run.path("notes.ckpt")
        try Data("hello, not sqlite".utf8).write(to: URL(fileURLWithPath: notCheckpoint))
        let cases: [[String]] = [
            ["show", run.path("missing.ckpt")],
            ["show", notCheckpoint],
            ["tree", file, "/no/such/node"],
            ["get", file, "no-slash"],
            ["diff", file, run.path("missing.ckpt")],
            ["tensors"],
            ["verify", notCheckpoint],
            ["ls", run.path("missing-dir")],
        ]
        for arguments in cases {
            let result = try Inspector.run(arguments)
            #expect(result.isOneLineError, "\(arguments): status \(result.status), stderr \(result.stderr)")
            #expect(!result.stderr.contains("Stack"), "\(arguments)")
        }
        #expect(try Inspector.run(["show", notCheckpoint]).stderr.contains("notes.ckpt"))
        #expect(try Inspector.run(["get", file, "/no/such"]).stderr.contains("/no/such"))
    }

    @Test func colourOnlyWhenAskedAndAllowed() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let base = try run.save("base.ckpt")
        let other = try run.save("other.ckpt", Fixture.checkpoint(step: 301))
        // Output to a pipe is never coloured, with or without the flags.
        for arguments in [["diff", base, other], ["diff", base, other, "--no-color"]] {
            #expect(!(try Inspector.run(arguments)).stdout.contains("\u{1B}["))
        }
        #expect(!(try Inspector.run(["show", base], environment: ["NO_COLOR": "1"])).stdout.contains("\u{1B}["))

        // On a terminal (util-linux `script` provides one) colour appears unless refused.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        func onTerminal(_ flags: String, noColor: String? = nil) throws -> String {
            let command = "'\(Inspector.executable.url.path)' diff '\(base)' '\(other)' --only /global_step \(flags)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qec", command, "/dev/null"]
            // The test runner may itself set NO_COLOR; each case decides.
            var environment = ProcessInfo.processInfo.environment
            environment["NO_COLOR"] = noColor
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let coloured = try onTerminal("")
        #expect(coloured.contains("\u{1B}[33m~ /global_step"), "\(coloured.debugDescription)")
        #expect(!(try onTerminal("--no-color")).contains("\u{1B}["))
        #expect(!(try onTerminal("", noColor: "1")).contains("\u{1B}["))
    }

    @Test func helpShowsAnExampleForEveryCommand() throws {
        for command in ["show", "tree", "tensors", "get", "callbacks", "diff", "verify", "sql", "ls"] {
            let help = try Inspector.run(["help", command])
            #expect(help.status == 0, "\(command)")
            #expect(help.stdout.contains("$ ckpt-inspect \(command) "), "\(command) help lacks an example")
        }
    }
}
