import CairnTestSupport
import Foundation
import Testing

/// Values real torch files hold, run through the real binary: no trap, exact integers, 0-d
/// tensors as JSON scalars, and dict keys of any hashable type addressable by their repr.
@Suite struct PickleValueCommandTests {
    @Test(.enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage)))
    func extremeIntegersScalarsAndUnusualKeys() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let file = scratch.file("values.pt").path
        let write = try BuiltProduct(url: URL(fileURLWithPath: try InteropPython.interpreter())).run(["-c", """
            import sys, torch
            torch.save({"k": {1.5: 1, None: 2, (1, "a"): 3, True: 4}, "t": torch.tensor([-2**63, 2**63 - 1]),
                        "z": torch.tensor(3.5), "n": torch.tensor(7)}, sys.argv[1])
            """, file])
        try #require(write.status == 0, "\(write.stderr)")

        let extremes = try Inspector.run(["get", file, "/t"])
        #expect(extremes.status == 0, "\(extremes.stderr)")
        #expect(extremes.stdout.contains("[-9223372036854775808, 9223372036854775807]"), "\(extremes.stdout)")
        let json = try Inspector.json(["get", file, "/t"])
        #expect(((json.document as? [String: Any])?["data"] as? [NSNumber])?.map(\.int64Value) == [Int64.min, Int64.max])

        let scalar = try Inspector.json(["get", file, "/z"])
        #expect((scalar.document as? [String: Any])?["data"] as? Double == 3.5)
        #expect((try Inspector.json(["get", file, "/n"]).document as? [String: Any])?["data"] as? Int == 7)

        #expect(try Inspector.run(["show", file]).status == 0)
        let tuple = try Inspector.run(["get", file, "/k/(1, 'a')"])
        #expect(tuple.status == 0 && tuple.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "3", "\(tuple.stdout)\(tuple.stderr)")
        #expect(try Inspector.run(["get", file, "/k/None"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
        #expect(try Inspector.run(["get", file, "/k/1.5"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}
