import CairnCheckpoint
import Foundation
import Testing

@Suite struct ReadingCommandTests {
    @Test func showPrintsVersionsProgressSectionsAndStates() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let text = try Inspector.run(["show", file])
        #expect(text.status == 0)
        #expect(text.stdout.contains("global_step  300"))
        #expect(text.stdout.contains("state_dict"))
        #expect(text.stdout.contains(Fixture.counterKey))
        #expect(text.stdout.contains("lr=0.001"))
        #expect(!text.stdout.contains("\u{1B}["), "no colour in a pipe")

        let (status, document) = try Inspector.json(["show", file])
        let object = try #require(document as? [String: Any])
        #expect(status == 0)
        #expect(object["global_step"] as? Int == 300)
        #expect(object["tensor_count"] as? Int == 8)
        let callbacks = try #require(object["callbacks"] as? [String: Any])
        #expect((callbacks[Fixture.counterKey] as? [String: Any])?["count"] as? Int == 300)
        let optimizers = try #require(object["optimizers"] as? [[String: Any]])
        #expect(optimizers.first?["parameter_states"] as? Int == 2)
        #expect((object["hyper_parameters"] as? [String: Any])?["name"] as? String == "mlp")
    }

    @Test func treeFromRootAndFromPointer() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let whole = try Inspector.run(["tree", file])
        #expect(whole.status == 0)
        #expect(whole.stdout.contains("    layer.weight"))
        #expect(whole.stdout.contains("tensor F32 [4, 4]"))

        let (_, document) = try Inspector.json(["tree", file, "/optimizer_states/0/state"])
        let node = try #require(document as? [String: Any])
        #expect(node["kind"] as? String == "dict")
        let children = try #require(node["children"] as? [[String: Any]])
        #expect(children.map { $0["name"] as? String } == ["0", "1"])
        #expect(node["bytes"] as? Int == 80)
    }

    @Test func tensorsTableFilterAndStatistics() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let table = try Inspector.run(["tensors", file, "--filter", "/state_dict/*"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("/state_dict/layer.weight"))
        #expect(!table.stdout.contains("exp_avg"))
        #expect(table.stdout.contains("6 tensors"))

        let (_, document) = try Inspector.json(["tensors", file, "--stats"])
        let tensors = try #require((document as? [String: Any])?["tensors"] as? [[String: Any]])
        func stats(_ path: String) -> [String: Any]? {
            tensors.first { $0["path"] as? String == path }?["stats"] as? [String: Any]
        }
        #expect(stats("/state_dict/layer.bias")?["mean"] as? Double == 1.5)
        #expect(stats("/state_dict/layer.bias")?["max"] as? Double == 3)
        // F16 [1, -2, +inf]: one infinity; min/max over the finite elements.
        #expect(stats("/state_dict/half")?["inf"] as? Int == 1)
        #expect(stats("/state_dict/half")?["min"] as? Double == -2)
        // BF16 [1, NaN].
        #expect(stats("/state_dict/bf")?["nan"] as? Int == 1)
        #expect(stats("/state_dict/bf")?["max"] as? Double == 1)
        // 16 weights over 40-byte chunks: elements cross chunk boundaries.
        #expect(stats("/state_dict/layer.weight")?["max"] as? Double == 3.75)
    }

    @Test func getScalarsSubtreesAndTensors() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let step = try Inspector.run(["get", file, "/global_step", "--json"])
        #expect(step.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "300")

        let (_, state) = try Inspector.json(["get", file, "/callbacks/\(Fixture.counterKey)"])
        #expect((state as? [String: Any])?["count"] as? Int == 300)

        let (_, tensor) = try Inspector.json(["get", file, "/state_dict/layer.bias"])
        let object = try #require(tensor as? [String: Any])
        #expect(object["dtype"] as? String == "F32")
        #expect(object["shape"] as? [Int] == [4])
        #expect(object["data"] as? [Double] == [0, 1, 2, 3])

        let preview = try Inspector.run(["get", file, "/state_dict/layer.weight"])
        #expect(preview.stdout.contains("F32 [4, 4]"))
        #expect(preview.stdout.contains("(8 more)"))
        let full = try Inspector.run(["get", file, "/state_dict/layer.weight", "--full"])
        #expect(full.stdout.contains("3.75"))
        #expect(!full.stdout.contains("more"))

        let lr = try Inspector.run(["get", file, "/optimizer_states/0/param_groups/0/lr"])
        #expect(lr.stdout == "0.001\n")
    }

    @Test func callbacksByStateKey() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let text = try Inspector.run(["callbacks", file])
        #expect(text.stdout.contains(Fixture.counterKey + "\n  count = 300"))
        let (_, document) = try Inspector.json(["callbacks", file])
        let callbacks = try #require((document as? [String: Any])?["callbacks"] as? [String: Any])
        #expect(callbacks.keys.sorted() == [Fixture.counterKey, Fixture.checkpointKey].sorted())
    }

    @Test func sqlReadsAndRefusesWrites() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let file = try run.save("a.ckpt")
        let (status, document) = try Inspector.json(["sql", file, "SELECT dtype, count(*) AS n FROM tensors GROUP BY dtype ORDER BY dtype"])
        #expect(status == 0)
        let rows = try #require((document as? [String: Any])?["rows"] as? [[Any]])
        #expect(rows.first?.first as? String == "BF16")
        let table = try Inspector.run(["sql", file, "SELECT path FROM tensors WHERE dtype = 'U8'"])
        #expect(table.stdout == "path\n/state_dict/marker\n")

        let write = try Inspector.run(["sql", file, "DELETE FROM chunks"])
        #expect(write.isOneLineError)
        #expect(write.stderr.contains(file))
        let two = try Inspector.run(["sql", file, "SELECT 1; DROP TABLE chunks"])
        #expect(two.isOneLineError)
        #expect(try Inspector.run(["verify", file]).status == 0)
    }

    @Test func lsShowsStepsScoresBestAndLast() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        try run.save("epoch=0.ckpt", Fixture.checkpoint(step: 100, bestModelPath: "\(run.url.path)/epoch=0.ckpt", score: 0.5))
        try run.save("epoch=1.ckpt", Fixture.checkpoint(step: 200, bestModelPath: "\(run.url.path)/epoch=1.ckpt", score: 0.25))
        try run.save("last.ckpt", Fixture.checkpoint(step: 300, bestModelPath: "\(run.url.path)/epoch=1.ckpt", score: 0.4))
        let (status, document) = try Inspector.json(["ls", run.url.path])
        #expect(status == 0)
        let entries = try #require((document as? [String: Any])?["checkpoints"] as? [[String: Any]])
        #expect(entries.map { $0["file"] as? String } == ["epoch=0.ckpt", "epoch=1.ckpt", "last.ckpt"])
        #expect(entries.map { $0["best"] as? Bool } == [false, true, false])
        #expect(entries.map { $0["last"] as? Bool } == [false, false, true])
        #expect(entries.map { $0["score"] as? Double } == [0.5, 0.25, 0.4])
        let text = try Inspector.run(["ls", run.url.path])
        #expect(text.stdout.contains("val_loss"))
        #expect(text.stdout.contains("best"))
    }
}
