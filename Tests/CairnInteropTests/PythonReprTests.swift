import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// Dict keys that are not strings or ints read as Python prints them.
@Suite struct PythonReprTests {
    static let floats: [Double] = [1.5, 2.0, -0.0, 0.1, 1e15, 1e16, 1.5e16, 123456789.125, 1e-4, 1e-5, 3.14159e-7, -2.5e22,
                                   .greatestFiniteMagnitude, .leastNonzeroMagnitude, 1 / 3, 9007199254740993, .infinity, -.infinity]

    @Test(.needsPython)
    func floatsAndStringsMatchPythonsRepr() throws {
        let python = try InteropPython.interpreter()
        let literals = Self.floats.map { $0.isInfinite ? ($0 > 0 ? "float('inf')" : "float('-inf')") : "\($0)" }
        let strings = ["plain", "it's", "say \"hi\"", "both ' and \"", "tab\there", "back\\slash"]
        let script = "import json, sys; print(json.dumps([repr(x) for x in [\(literals.joined(separator: ", "))]] + [repr(s) for s in json.loads(sys.argv[1])]))"
        let result = try BuiltProduct(url: URL(fileURLWithPath: python))
            .run(["-c", script, String(decoding: try JSONSerialization.data(withJSONObject: strings), as: UTF8.self)])
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String], "\(result.stderr)")
        let actual = Self.floats.map(PythonRepr.float) + strings.map(PythonRepr.string)
        #expect(actual == expected)
    }

    @Test func tuplesNoneAndBools() {
        #expect(PythonRepr.of(.tuple([.int(1), .string("a")])) == "(1, 'a')")
        #expect(PythonRepr.of(.tuple([.float(2)])) == "(2.0,)")
        #expect(PythonRepr.of(.tuple([])) == "()")
        #expect(PythonRepr.of(.none) == "None" && PythonRepr.of(.bool(true)) == "True")
        #expect(PythonRepr.of(.bytes([0x61, 0x00, 0x27])) == "b\"a\\x00'\"")
        #expect(PythonRepr.of(.list(PickleList())) == nil)
    }

    /// A torch file whose dict has float, None, tuple and bool keys and whose tensors hold
    /// int64's extremes and a 0-d value reads whole: nothing is refused, nothing traps.
    @Test(.needsPython)
    func unusualKeysAndExtremeIntegersRead() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let file = scratch.file("keys.pt")
        let python = try InteropPython.interpreter()
        let write = try BuiltProduct(url: URL(fileURLWithPath: python)).run(["-c", """
            import sys, torch
            torch.save({"k": {1.5: 1, None: 2, (1, "a"): 3, True: 4, "s": 5}, "t": torch.tensor([-2**63, 2**63 - 1]),
                        "z": torch.tensor(3.5)}, sys.argv[1])
            """, file.path])
        try #require(write.status == 0, "\(write.stderr)")
        let tree = try TorchCheckpoint.read(file)
        guard case let .dictionary(keys)? = tree["k"] else { Issue.record("no dict"); return }
        #expect(keys.keys.map(\.description) == ["1.5", "None", "(1, 'a')", "True", "s"])
        #expect(try tree["t"]?.tensor?.bytes() == withUnsafeBytes(of: Int64.min.littleEndian, Array.init) + withUnsafeBytes(of: Int64.max.littleEndian, Array.init))
    }
}

/// Plain data a pickle may hold beyond dicts, lists and scalars, read as inert values or records.
@Suite struct PickleValueTests {
    @Test func integersOfAnyLengthReadExactly() {
        func bytes(_ value: Int64, count: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: $0 < 8 ? value >> (8 * Int64($0)) : (value < 0 ? -1 : 0)) }
        }
        #expect(Unpickler.decimal(twosComplement: bytes(Int64.min, count: 9)) == "-9223372036854775808")
        #expect(Unpickler.decimal(twosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 1]) == "18446744073709551616")
        #expect(Unpickler.decimal(twosComplement: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]) == "-18446744073709551617")
        #expect(Unpickler.decimal(twosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) == "0")
    }

    @Test(.needsPython)
    func pythonValuesReadAsDataOrRecords() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        for protocolVersion in [2, 4] {
            let file = scratch.file("values-\(protocolVersion).pt")
            let write = try BuiltProduct(url: URL(fileURLWithPath: try InteropPython.interpreter())).run(["-c", """
                import argparse, collections, sys, torch
                torch.save({"big": 2**70, "negative": -2**100, "complex": 1 + 2j, "dtype": torch.bfloat16,
                            "default": collections.defaultdict(list, {"a": [1]}), "namespace": argparse.Namespace(lr=0.1, name="x"),
                            "bytes": b"ab", "set": {3}}, sys.argv[1], pickle_protocol=int(sys.argv[2]))
                """, file.path, String(protocolVersion)])
            try #require(write.status == 0, "\(write.stderr)")
            let tree = try TorchCheckpoint.read(file)
            func text(_ path: String) -> String? { if case let .string(value)? = tree[path] { value } else { nil } }
            #expect(text("/big/@class") == "int" && text("/big/value") == "1180591620717411303424")
            #expect(text("/negative/value") == "-1267650600228229401496703205376")
            guard case .double(2)? = tree["/complex/imag"], case .int(1)? = tree["/default/a/0"], case .double(0.1)? = tree["/namespace/lr"],
                  case .bytes([0x61, 0x62])? = tree["/bytes"], case .int(3)? = tree["/set/0"] else {
                Issue.record("protocol \(protocolVersion): \(tree)"); continue
            }
            #expect(text("/dtype/name") == "torch.bfloat16" && text("/namespace/@class") == "argparse.Namespace" && text("/namespace/name") == "x")
        }
    }

    /// Classes outside the plain-data list stay refused: a record is never made of, say, os.system.
    @Test func callingABuiltinTypeIsRefused() {
        // GLOBAL builtins.list, EMPTY_TUPLE, REDUCE, STOP
        let pickle: [UInt8] = Array("cbuiltins\nlist\n".utf8) + [0x29, 0x52, 0x2E]
        #expect(throws: InteropError.self) { try TorchCheckpoint.readPickle(pickle, file: "call.pkl") }
    }
}
