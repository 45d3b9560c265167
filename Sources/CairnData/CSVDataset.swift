import CairnTensor
import Foundation

/// A numeric CSV file with a header row: chosen columns are the features, others the target.
/// Example fields: `features` (`[F]` F32) and `target`, a class index (`[]` I64) or values
/// (`[T]` F32).
public struct CSVDataset: Dataset {
    /// What the target columns hold.
    public enum Target: Sendable, Equatable {
        /// One column of non-negative integer class indices.
        case classIndex(column: String)
        /// Float values, from one or more columns (a regression target).
        case values(columns: [String])

        var columns: [String] {
            switch self {
            case let .classIndex(column): [column]
            case let .values(columns): columns
            }
        }
    }

    /// Names of the feature columns, in file order.
    public let featureNames: [String]
    /// What the target is.
    public let target: Target
    /// Row-major features, `count × featureCount`.
    public private(set) var features: [Float]
    /// Row-major targets, `count × targetWidth`.
    public let targets: [Float]
    public let count: Int
    /// Features per example.
    public var featureCount: Int { featureNames.count }

    /// Reads `path`; bad rows throw an error naming the file and line. `featureColumns` defaults to every non-target column.
    public init(contentsOfFile path: String, target: Target = .classIndex(column: "label"), featureColumns: [String]? = nil) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DatasetError.csv(.unreadable(file: path, reason: error.localizedDescription))
        }
        try self.init(text: text, file: path, target: target, featureColumns: featureColumns)
    }

    /// Parses CSV `text`; `file` names the source in errors.
    public init(text: String, file: String, target: Target = .classIndex(column: "label"), featureColumns: [String]? = nil) throws {
        let table: CSVMatrix
        do {
            table = try CSVMatrix(text: text, file: file, hasHeader: true)
        } catch let error as CSVError {
            throw DatasetError.csv(error)
        }
        func column(_ name: String) throws -> Int {
            guard let index = table.header.firstIndex(of: name) else {
                throw DatasetError.missingColumn(file: file, column: name, header: table.header)
            }
            return index
        }
        let targetIndices = try target.columns.map(column)
        let featureIndices = try (featureColumns ?? table.header.filter { !target.columns.contains($0) }).map(column)
        var features: [Float] = []
        features.reserveCapacity(table.rows * featureIndices.count)
        var targets: [Float] = []
        for row in 0..<table.rows {
            let cells = table.values[(row * table.columns)..<((row + 1) * table.columns)]
            for index in targetIndices {
                let value = cells[cells.startIndex + index]
                if case .classIndex = target, !(value >= 0 && value < 0x1p24 && value.rounded() == value) {
                    throw DatasetError.invalidLabel(file: file, line: table.lineNumbers[row], value: value)
                }
                targets.append(value)
            }
            for index in featureIndices { features.append(cells[cells.startIndex + index]) }
        }
        featureNames = featureIndices.map { table.header[$0] }
        self.target = target
        self.features = features
        self.targets = targets
        count = table.rows
    }

    public func example(at index: Int) -> Example {
        precondition(index >= 0 && index < count, "CSVDataset: index \(index) out of 0..<\(count)")
        let features = Tensor(shape: [featureCount], scalars: Array(self.features[(index * featureCount)..<((index + 1) * featureCount)]))
        switch target {
        case .classIndex:
            return Example(["features": features, "target": Tensor(indices: [Int(targets[index])], shape: [])])
        case let .values(columns):
            let width = columns.count
            return Example(["features": features, "target": Tensor(shape: [width], scalars: Array(targets[(index * width)..<((index + 1) * width)]))])
        }
    }

    /// The same data with every feature multiplied by `factor` (e.g. 1/16 for 4-bit pixels).
    public func scaled(by factor: Float) -> CSVDataset {
        var copy = self
        copy.features = features.map { $0 * factor }
        return copy
    }
}
