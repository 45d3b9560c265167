/// Shape arithmetic shared by the ops: element counts, strides, axis
/// normalisation and NumPy broadcasting.
enum Shape {
    /// Element count of a shape built by the program itself (trusted).
    @inline(__always)
    static func count(_ shape: [Int]) -> Int {
        var total = 1
        for dimension in shape { total *= dimension }
        return total
    }

    /// Element count of a shape read from data: overflow and negative sizes throw.
    static func checkedCount(_ shape: [Int], tensor: String) throws -> Int {
        var total = 1
        for dimension in shape {
            guard dimension >= 0 else { throw TensorError.negativeDimension(tensor: tensor, shape: shape) }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw TensorError.shapeOverflow(tensor: tensor, shape: shape) }
            total = product
        }
        return total
    }

    /// Row-major element strides.
    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// Maps a possibly negative axis (torch style) into `0..<rank`.
    static func axis(_ axis: Int, rank: Int, op: String) -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        precondition(normalized >= 0 && normalized < rank,
                     "\(op): axis \(axis) is out of range for rank \(rank)")
        return normalized
    }

    /// Normalised, sorted, de-duplicated axes; `nil` means every axis.
    static func axes(_ axes: [Int]?, rank: Int, op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return Array(Set(axes.map { axis($0, rank: rank, op: op) })).sorted()
    }

    /// The NumPy broadcast of two shapes.
    static func broadcast(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for index in 0..<rank {
            let da = index < rank - a.count ? 1 : a[index - (rank - a.count)]
            let db = index < rank - b.count ? 1 : b[index - (rank - b.count)]
            precondition(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) do not broadcast")
            result[index] = da == 1 ? db : da
        }
        return result
    }

    /// Element strides for reading `shape` as if broadcast to `target` (0 on broadcast axes).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let own = strides(shape)
        let offset = target.count - shape.count
        return (0..<target.count).map { index in
            index < offset || shape[index - offset] == 1 ? 0 : own[index - offset]
        }
    }

    /// Splits a shape around `axis` into (outer, length, inner) element counts.
    static func split(_ shape: [Int], at axis: Int) -> (outer: Int, length: Int, inner: Int) {
        (count(Array(shape[..<axis])), shape[axis], count(Array(shape[(axis + 1)...])))
    }
}

/// Walks the rows (all axes but the last) of a broadcast output shape, keeping
/// the start offset of each operand's matching row.
struct BroadcastRows {
    let outerShape: [Int]
    let strides: [[Int]]
    var index: [Int]
    var offsets: [Int]

    init(shape: [Int], operandStrides: [[Int]]) {
        outerShape = Array(shape.dropLast())
        strides = operandStrides
        index = [Int](repeating: 0, count: outerShape.count)
        offsets = [Int](repeating: 0, count: operandStrides.count)
    }

    /// Moves to the next row, odometer style.
    @inline(__always)
    mutating func advance() {
        var axis = outerShape.count - 1
        while axis >= 0 {
            index[axis] += 1
            for operand in offsets.indices { offsets[operand] += strides[operand][axis] }
            if index[axis] < outerShape[axis] { return }
            for operand in offsets.indices { offsets[operand] -= strides[operand][axis] * outerShape[axis] }
            index[axis] = 0
            axis -= 1
        }
    }
}
