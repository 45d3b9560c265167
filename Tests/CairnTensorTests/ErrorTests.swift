import Foundation
import Testing
@testable import CairnTensor

@Suite struct TensorErrorTests {
    @Test func byteCountMismatchNamesTheTensor() {
        #expect(throws: TensorError.byteCountMismatch(tensor: "layer.weight", dtype: .f32, shape: [2, 3], expected: 24, actual: 20)) {
            try Tensor(dtype: .f32, shape: [2, 3], bytes: [UInt8](repeating: 0, count: 20), name: "layer.weight")
        }
        #expect(throws: TensorError.byteCountMismatch(tensor: "<unnamed>", dtype: .bf16, shape: [3], expected: 6, actual: 8)) {
            try Tensor(dtype: .bf16, shape: [3], bytes: [UInt8](repeating: 0, count: 8))
        }
        let error = TensorError.byteCountMismatch(tensor: "w", dtype: .i64, shape: [1], expected: 8, actual: 4)
        #expect(error.description.contains("w") && error.description.contains("I64"))
    }

    @Test func hostileShapesThrowInsteadOfTrapping() {
        #expect(throws: TensorError.shapeOverflow(tensor: "big", shape: [1 << 40, 1 << 40])) {
            try Tensor(dtype: .u8, shape: [1 << 40, 1 << 40], bytes: [], name: "big")
        }
        #expect(throws: TensorError.shapeOverflow(tensor: "wide", shape: [1 << 62])) {
            try Tensor(dtype: .f64, shape: [1 << 62], bytes: [], name: "wide")
        }
        #expect(throws: TensorError.negativeDimension(tensor: "neg", shape: [2, -1])) {
            try Tensor(dtype: .f32, shape: [2, -1], bytes: [], name: "neg")
        }
    }

    @Test func emptyAndScalarShapes() throws {
        #expect(try Tensor(dtype: .f32, shape: [0, 5], bytes: []).count == 0)
        #expect(try Tensor(dtype: .i16, shape: [], bytes: [7, 0]).integers == [7])
    }

    @Test func generatorStateIsValidated() {
        #expect(throws: TensorError.invalidGeneratorState(words: 3)) { try RandomGenerator(state: [1, 2, 3]) }
        #expect(throws: TensorError.invalidGeneratorState(words: 4)) { try RandomGenerator(state: [0, 0, 0, 0]) }
    }
}

@Suite struct CSVTests {
    @Test func parsesHeaderAndValues() throws {
        let table = try CSVMatrix(text: "a,b,label\n1,2.5,0\n-3,4e1,1\n", file: "t.csv")
        #expect(table.header == ["a", "b", "label"])
        #expect(table.rows == 2 && table.columns == 3)
        #expect(table.values == [1, 2.5, 0, -3, 40, 1])
        #expect(table.tensor(columns: 0..<2).scalars == [1, 2.5, -3, 40])
        #expect(try CSVMatrix(text: "1,2\r\n3,4", file: "x", hasHeader: false).tensor.shape == [2, 2])
    }

    @Test func wrongWidthNamesFileAndLine() {
        #expect(throws: CSVError.wrongWidth(file: "data.csv", line: 3, expected: 2, actual: 3)) {
            try CSVMatrix(text: "x,y\n1,2\n3,4,5\n", file: "data.csv")
        }
    }

    @Test func nonNumericCellNamesFileLineAndColumn() {
        #expect(throws: CSVError.nonNumeric(file: "data.csv", line: 2, column: 2, cell: "abc")) {
            try CSVMatrix(text: "x,y\n1,abc\n", file: "data.csv")
        }
        let message = CSVError.nonNumeric(file: "data.csv", line: 2, column: 2, cell: "abc").description
        #expect(message.contains("data.csv:2") && message.contains("column 2"))
    }

    @Test func integerColumnsBecomeLabels() throws {
        let good = try CSVMatrix(text: "x,label\n0.5,2\n\n1.5,0\n", file: "l.csv")
        #expect(try good.integerColumn(1).integers == [2, 0])
        let bad = try CSVMatrix(text: "x,label\n0.5,2\n\n1.5,0\n2.5,1.5\n", file: "l.csv")
        #expect(throws: CSVError.notInteger(file: "l.csv", line: 5, column: 2, value: 1.5)) { try bad.integerColumn(1) }
    }

    @Test func missingAndEmptyFiles() {
        #expect(throws: CSVError.self) { try CSVMatrix(contentsOfFile: "/nonexistent/cairn.csv") }
        #expect(throws: CSVError.empty(file: "e.csv")) { try CSVMatrix(text: "a,b\n", file: "e.csv") }
    }

    @Test func loadsTheDigitsFixture() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/digits.csv").standardized.path
        let table = try CSVMatrix(contentsOfFile: path)
        #expect(table.columns == 65)
        #expect(table.header.last == "label")
        #expect(table.rows > 1000)
        let labels = try table.integerColumn(64)
        #expect(labels.dtype == .i64 && labels.integers.allSatisfy { (0...9).contains($0) })
    }
}

@Suite struct ProgrammingErrorTests {
    @Test func mismatchedBroadcastStopsNamingOpAndShapes() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        let message = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(message.contains("add: shapes [2, 3] and [4] do not broadcast"))
    }

    @Test func axisOutOfRangeStops() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]).sum(axis: 2)
        }
    }

    @Test func misalignedMatmulStops() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([2, 3]))
        }
    }
}
