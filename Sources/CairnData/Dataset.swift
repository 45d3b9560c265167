import CairnTensor
import Foundation

/// One labelled example: numeric features and an integer class label.
public struct Example: Sendable, Equatable {
    /// Feature values.
    public var features: [Float]
    /// Class label.
    public var label: Int64

    /// An example with `features` and `label`.
    public init(features: [Float], label: Int64) {
        self.features = features
        self.label = label
    }
}

/// Random access to a fixed number of examples of equal width.
public protocol Dataset: Sendable {
    /// Number of examples.
    var count: Int { get }
    /// Number of features of every example.
    var featureCount: Int { get }
    /// The example at `index` in `0..<count`.
    func example(at index: Int) -> Example
}

/// Errors met while building a data set from a file, each naming the file and line.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The CSV itself is malformed (bad width, non-numeric cell, unreadable, empty).
    case csv(CSVError)
    /// The header has no column with the label's name.
    case missingLabelColumn(file: String, column: String, header: [String])
    /// A label is not a non-negative integer.
    case invalidLabel(file: String, line: Int, value: Float)

    public var description: String {
        switch self {
        case let .csv(error): error.description
        case let .missingLabelColumn(file, column, header): "\(file): no label column '\(column)' in header \(header)"
        case let .invalidLabel(file, line, value): "\(file):\(line): label \(value) is not a non-negative integer"
        }
    }
}

/// A numeric CSV file with a header row; one named column holds integer labels, the rest are features.
public struct CSVDataset: Dataset {
    /// Names of the feature columns, in file order.
    public let featureNames: [String]
    /// Row-major features, `count × featureCount`.
    public private(set) var features: [Float]
    /// One label per row.
    public let labels: [Int64]
    public let featureCount: Int
    public var count: Int { labels.count }

    /// Reads `path`; bad rows throw an error naming the file and line.
    public init(contentsOfFile path: String, labelColumn: String = "label") throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DatasetError.csv(.unreadable(file: path, reason: error.localizedDescription))
        }
        try self.init(text: text, file: path, labelColumn: labelColumn)
    }

    /// Parses CSV `text`; `file` names the source in errors.
    public init(text: String, file: String, labelColumn: String = "label") throws {
        let table: CSVMatrix
        do {
            table = try CSVMatrix(text: text, file: file, hasHeader: true)
        } catch let error as CSVError {
            throw DatasetError.csv(error)
        }
        guard let labelIndex = table.header.firstIndex(of: labelColumn) else {
            throw DatasetError.missingLabelColumn(file: file, column: labelColumn, header: table.header)
        }
        var features: [Float] = []
        features.reserveCapacity(table.rows * (table.columns - 1))
        var labels: [Int64] = []
        for row in 0..<table.rows {
            let cells = table.values[(row * table.columns)..<((row + 1) * table.columns)]
            let label = cells[cells.startIndex + labelIndex]
            guard label >= 0, label < 0x1p62, label.rounded() == label else {
                throw DatasetError.invalidLabel(file: file, line: Self.lineNumber(ofDataRow: row, in: text), value: label)
            }
            labels.append(Int64(label))
            for (column, value) in cells.enumerated() where column != labelIndex { features.append(value) }
        }
        featureNames = table.header.enumerated().filter { $0.offset != labelIndex }.map(\.element)
        featureCount = table.columns - 1
        self.features = features
        self.labels = labels
    }

    /// The 1-based line of data row `row`, skipping blank lines and the header as CSVMatrix does.
    static func lineNumber(ofDataRow row: Int, in text: String) -> Int {
        var remaining = row + 1  // the header comes first
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated()
        where !line.allSatisfy({ $0 == " " }) {
            if remaining == 0 { return offset + 1 }
            remaining -= 1
        }
        return 0
    }

    public func example(at index: Int) -> Example {
        precondition(index >= 0 && index < count, "CSVDataset: index \(index) out of 0..<\(count)")
        return Example(features: Array(features[(index * featureCount)..<((index + 1) * featureCount)]), label: labels[index])
    }

    /// The same data with every feature multiplied by `factor` (e.g. 1/16 for 4-bit pixels).
    public func scaled(by factor: Float) -> CSVDataset {
        var copy = self
        copy.features = features.map { $0 * factor }
        return copy
    }
}

/// A view of some examples of a base data set, by index.
public struct Subset<Base: Dataset>: Dataset {
    /// The underlying data set.
    public let base: Base
    /// Indices into `base`, in the order this subset presents them.
    public let indices: [Int]

    /// The examples of `base` at `indices`.
    public init(_ base: Base, indices: [Int]) {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < base.count }, "Subset: an index is out of 0..<\(base.count)")
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }
    public var featureCount: Int { base.featureCount }
    public func example(at index: Int) -> Example { base.example(at: indices[index]) }
}

/// Train, validation and test parts of one data set.
public struct DatasetSplits<Base: Dataset>: Sendable {
    /// Training examples.
    public let train: Subset<Base>
    /// Validation examples.
    public let validation: Subset<Base>
    /// Test examples.
    public let test: Subset<Base>
}

extension Dataset {
    /// Deterministic split: the indices are permuted by `seed`, then cut into parts of
    /// `validationFraction` and `testFraction` (rounded down), the rest for training.
    public func split(validationFraction: Double, testFraction: Double, seed: UInt64) -> DatasetSplits<Self> {
        precondition(validationFraction >= 0 && testFraction >= 0 && validationFraction + testFraction <= 1,
                     "split: fractions \(validationFraction) + \(testFraction) must lie in [0, 1]")
        var rng = RandomGenerator(seed: seed)
        let order = rng.permutation(count)
        let validationCount = Int(Double(count) * validationFraction)
        let testCount = Int(Double(count) * testFraction)
        let trainCount = count - validationCount - testCount
        return DatasetSplits(train: Subset(self, indices: Array(order[0..<trainCount])),
                             validation: Subset(self, indices: Array(order[trainCount..<(trainCount + validationCount)])),
                             test: Subset(self, indices: Array(order[(trainCount + validationCount)...])))
    }
}
