import CairnTensor
import Testing

/// Rows cut out of a tensor and stacked back keep their dtype and exact values.
@Suite struct RowTests {
    @Test func integerRowsStayExactBeyondFloatPrecision() {
        let values: [Int64] = [Int64.max, Int64.min, 1 << 53 + 1, -7]
        let column = Tensor(int64s: values)
        #expect(column.dtype == .i64 && column.shape == [4] && column.integers == values)
        let matrix = Tensor.stackRows([column, Tensor(int64s: values.reversed())])
        #expect(matrix.shape == [2, 4] && matrix.dtype == .i64)
        #expect(matrix.row(1).integers == values.reversed())
        #expect(matrix.rows(0..<1).shape == [1, 4] && matrix.rows(0..<1).integers == values)
    }

    @Test func floatRowsAndScalars() {
        let matrix = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        #expect(matrix.row(2).scalars == [5, 6] && matrix.row(2).shape == [2])
        #expect(matrix.rows(1..<3).scalars == [3, 4, 5, 6])
        let scalars = Tensor.stackRows([Tensor(1.5), Tensor(-2)])
        #expect(scalars.shape == [2] && scalars.scalars == [1.5, -2] && scalars.dtype == .f32)
        #expect(Tensor(int64s: [3, 4]).row(0).shape == [Int]())
    }
}
