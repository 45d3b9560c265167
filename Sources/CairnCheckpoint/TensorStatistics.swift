import Crypto

/// Summary statistics of a tensor's finite elements, plus counts of NaN and ±Inf.
public struct TensorStatistics: Sendable, Equatable {
    public var count = 0
    public var nanCount = 0
    public var infinityCount = 0
    /// Over finite elements only; `nil` when there are none.
    public var minimum: Double?
    public var maximum: Double?
    public var mean: Double?
    /// Population standard deviation of the finite elements.
    public var standardDeviation: Double?

    // Welford's running mean and sum of squared deviations: stable in one pass.
    private var finiteCount = 0
    private var runningMean = 0.0
    private var squaredDeviations = 0.0

    public init() {}

    /// Folds more elements into the statistics.
    public mutating func add(_ values: [Double]) {
        for value in values {
            count += 1
            if value.isNaN { nanCount += 1; continue }
            if value.isInfinite { infinityCount += 1; continue }
            finiteCount += 1
            let delta = value - runningMean
            runningMean += delta / Double(finiteCount)
            squaredDeviations += delta * (value - runningMean)
            minimum = Swift.min(minimum ?? value, value)
            maximum = Swift.max(maximum ?? value, value)
        }
        mean = finiteCount > 0 ? runningMean : nil
        standardDeviation = finiteCount > 0 ? (squaredDeviations / Double(finiteCount)).squareRoot() : nil
    }

    /// Statistics of a tensor whose bytes are lent in place (in memory or mapped from a file),
    /// decoded 64 Ki elements at a time.
    public static func of(_ tensor: CheckpointTensor) throws -> TensorStatistics {
        var statistics = TensorStatistics()
        let width = tensor.dtype.byteWidth
        try tensor.withUnsafeBytes { raw in
            var block: [Double] = []
            block.reserveCapacity(1 << 16)
            var offset = 0
            while offset + width <= raw.count {
                block.append(TensorElementDecoding.element(raw, at: offset, dtype: tensor.dtype))
                offset += width
                if block.count == 1 << 16 {
                    statistics.add(block)
                    block.removeAll(keepingCapacity: true)
                }
            }
            if !block.isEmpty { statistics.add(block) }
        }
        return statistics
    }

    /// Statistics of a stored tensor, streamed one chunk at a time.
    public static func of(_ info: CheckpointTensorInfo, in reader: CheckpointReader) throws -> TensorStatistics {
        let stream = TensorElementStream(reader: reader, info: info)
        var statistics = TensorStatistics()
        while true {
            let block = try stream.next(limit: 1 << 16)
            if block.isEmpty { return statistics }
            statistics.add(block)
        }
    }
}

/// Element-wise tolerances with `torch.isclose` semantics: `a` and `b` differ when `|a - b| > atol + rtol·|b|`.
public struct TensorTolerance: Sendable, Equatable {
    public var absolute: Double
    public var relative: Double

    /// Exact comparison.
    public static let exact = TensorTolerance(absolute: 0, relative: 0)

    public init(absolute: Double, relative: Double) {
        self.absolute = absolute
        self.relative = relative
    }

    /// Whether `old` and `new` differ beyond the tolerance; NaN differs from everything, as with `equal_nan=False`.
    public func differ(_ old: Double, _ new: Double) -> Bool {
        if old == new { return false }
        // Unequal infinities are never close, though inf <= atol + rtol·inf holds.
        if !old.isFinite || !new.isFinite { return true }
        return !(abs(old - new) <= absolute + relative * abs(new))
    }
}

/// How two tensors of the same shape differ, element by element.
public struct TensorComparison: Sendable, Equatable {
    public var elementCount = 0
    /// Elements with `|old - new| > atol + rtol·|new|`.
    public var differingCount = 0
    /// Largest `|old - new|` over pairs where both are finite.
    public var maximumAbsoluteDifference = 0.0
    /// `‖new - old‖₂ / ‖old‖₂` over finite pairs; infinite when `old` is zero and `new` is not.
    public var relativeL2Change: Double {
        if differenceSquares == 0 { return 0 }
        return oldSquares == 0 ? .infinity : (differenceSquares / oldSquares).squareRoot()
    }

    private var differenceSquares = 0.0
    private var oldSquares = 0.0

    public init() {}

    /// Folds in aligned blocks of old and new elements.
    public mutating func add(old: [Double], new: [Double], tolerance: TensorTolerance) {
        precondition(old.count == new.count, "TensorComparison.add: \(old.count) old elements against \(new.count) new")
        for (a, b) in zip(old, new) {
            elementCount += 1
            if tolerance.differ(a, b) { differingCount += 1 }
            guard a.isFinite, b.isFinite else { continue }
            let difference = b - a
            maximumAbsoluteDifference = Swift.max(maximumAbsoluteDifference, abs(difference))
            differenceSquares += difference * difference
            oldSquares += a * a
        }
    }

    /// Folds in old elements whose new counterparts are known to be identical
    /// (same chunk hash): they count, and they weigh in `‖old‖₂`, but never differ.
    public mutating func addUnchanged(old: [Double]) {
        elementCount += old.count
        for a in old where a.isFinite { oldSquares += a * a }
    }

    /// Compares two stored tensors of equal element count, streaming both.
    ///
    /// Where both are split into the same chunks, a chunk whose hash is the same
    /// on both sides is read from the old file only (its elements still count in
    /// ‖old‖₂); the new file's copy is never read.
    public static func of(old: CheckpointTensorInfo, in oldReader: CheckpointReader,
                          new: CheckpointTensorInfo, in newReader: CheckpointReader,
                          tolerance: TensorTolerance) throws -> TensorComparison {
        precondition(old.shape.reduce(1, *) == new.shape.reduce(1, *),
                     "TensorComparison.of: shapes \(old.shape) and \(new.shape) hold different element counts")
        if old.dtype == new.dtype, haveAlignedChunks(old, new) {
            return try chunkwise(old: old, in: oldReader, new: new, in: newReader, tolerance: tolerance)
        }
        return try blockwise(TensorElementStream(reader: oldReader, info: old), TensorElementStream(reader: newReader, info: new),
                             newFile: newReader.file, path: new.path.description, tolerance: tolerance)
    }

    /// Streams both sources side by side, 64 Ki elements at a time.
    static func blockwise(_ old: any TensorElementSource, _ new: any TensorElementSource,
                          newFile: String, path: String, tolerance: TensorTolerance) throws -> TensorComparison {
        var comparison = TensorComparison()
        while true {
            let oldBlock = try old.next(limit: 1 << 16)
            if oldBlock.isEmpty { return comparison }
            let newBlock = try new.next(limit: oldBlock.count)
            guard newBlock.count == oldBlock.count else {
                throw CheckpointError.corrupt(file: newFile, path: path, reason: "tensor ended early")
            }
            comparison.add(old: oldBlock, new: newBlock, tolerance: tolerance)
        }
    }
}

extension TensorComparison {
    /// Compares two tensors of equal shape from any sources: two stored tensors as
    /// ``of(old:in:new:in:tolerance:)`` does, otherwise both streamed block by block.
    public static func of(_ old: ComparedTensor, _ new: ComparedTensor, tolerance: TensorTolerance) throws -> TensorComparison {
        if case let .stored(oldInfo, oldReader) = old, case let .stored(newInfo, newReader) = new {
            return try of(old: oldInfo, in: oldReader, new: newInfo, in: newReader, tolerance: tolerance)
        }
        let path: String
        switch new {
        case let .stored(info, _): path = info.path.description
        case let .lent(_, _, pointer): path = pointer.description
        }
        return try old.withElements { oldElements in
            try new.withElements { newElements in
                try blockwise(oldElements, newElements, newFile: new.file, path: path, tolerance: tolerance)
            }
        }
    }

    /// Same chunk sizes on both sides, each a whole number of elements.
    static func haveAlignedChunks(_ old: CheckpointTensorInfo, _ new: CheckpointTensorInfo) -> Bool {
        let width = old.dtype.byteWidth
        return old.chunks.count == new.chunks.count
            && zip(old.chunks, new.chunks).allSatisfy { $0.byteCount == $1.byteCount && $0.byteCount % width == 0 }
    }

    static func chunkwise(old: CheckpointTensorInfo, in oldReader: CheckpointReader,
                          new: CheckpointTensorInfo, in newReader: CheckpointReader,
                          tolerance: TensorTolerance) throws -> TensorComparison {
        var comparison = TensorComparison()
        for index in old.chunks.indices {
            let oldElements = try verifiedElements(of: old, chunk: index, in: oldReader)
            if old.chunks[index].sha256 == new.chunks[index].sha256 {
                comparison.addUnchanged(old: oldElements)
            } else {
                comparison.add(old: oldElements, new: try verifiedElements(of: new, chunk: index, in: newReader),
                               tolerance: tolerance)
            }
        }
        return comparison
    }

    /// One chunk's elements, after checking its bytes against its content address.
    static func verifiedElements(of info: CheckpointTensorInfo, chunk index: Int,
                                 in reader: CheckpointReader) throws -> [Double] {
        let bytes = try reader.chunkBytes(of: info, at: index)
        let actual = hexString(SHA256.hash(data: bytes))
        guard actual == info.chunks[index].sha256 else {
            throw CheckpointError.checksumMismatch(file: reader.file, path: info.path.description,
                                                   expected: info.chunks[index].sha256, actual: actual)
        }
        let width = info.dtype.byteWidth
        return bytes.withUnsafeBytes { raw in
            (0..<bytes.count / width).map { TensorElementDecoding.element(raw, at: $0 * width, dtype: info.dtype) }
        }
    }
}
