import Foundation

/// Errors met while reading a numeric CSV file, each naming the file and position.
public enum CSVError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read or is not UTF-8.
    case unreadable(file: String, reason: String)
    /// The file holds no data rows.
    case empty(file: String)
    /// A row has a different number of cells than the first row.
    case wrongWidth(file: String, line: Int, expected: Int, actual: Int)
    /// A cell is not a number.
    case nonNumeric(file: String, line: Int, column: Int, cell: String)
    /// A cell of a column read as labels or indices is not a whole number.
    case notInteger(file: String, line: Int, column: Int, value: Float)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): "\(file): cannot read (\(reason))"
        case let .empty(file): "\(file): no data rows"
        case let .wrongWidth(file, line, expected, actual): "\(file):\(line): expected \(expected) cells, found \(actual)"
        case let .nonNumeric(file, line, column, cell): "\(file):\(line): column \(column): '\(cell)' is not a number"
        case let .notInteger(file, line, column, value): "\(file):\(line): column \(column): \(value) is not a whole number"
        }
    }
}

/// A dense numeric table read from CSV: a header and row-major Float32 values.
public struct CSVMatrix: Sendable, Equatable {
    /// Column names from the header line (empty when the file has none).
    public let header: [String]
    /// Number of data rows.
    public var rows: Int { lineNumbers.count }
    /// Number of columns.
    public let columns: Int
    /// Row-major values, `rows × columns`.
    public let values: [Float]
    /// The file the table came from, for error messages.
    public let file: String
    /// The 1-based line of each data row in the file.
    public let lineNumbers: [Int]

    /// Reads a comma-separated file of numbers; lines and columns in errors count from 1.
    public init(contentsOfFile path: String, hasHeader: Bool = true) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CSVError.unreadable(file: path, reason: error.localizedDescription)
        }
        try self.init(text: text, file: path, hasHeader: hasHeader)
    }

    /// Parses CSV `text`; `file` only names the source in errors.
    public init(text: String, file: String, hasHeader: Bool = true) throws {
        var header: [String] = []
        var values: [Float] = []
        var width: Int?
        var awaitingHeader = hasHeader
        var lineNumbers: [Int] = []
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            // "\r\n" is a single Character in Swift, so CRLF files split like LF ones.
            if line.allSatisfy({ $0 == " " }) { continue }
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            if let width, cells.count != width {
                throw CSVError.wrongWidth(file: file, line: offset + 1, expected: width, actual: cells.count)
            }
            width = cells.count
            if awaitingHeader {
                awaitingHeader = false
                header = cells.map { $0.trimmingCharacters(in: .whitespaces) }
                continue
            }
            for (column, cell) in cells.enumerated() {
                let trimmed = cell.trimmingCharacters(in: .whitespaces)
                guard let value = Float(trimmed) else {
                    throw CSVError.nonNumeric(file: file, line: offset + 1, column: column + 1, cell: trimmed)
                }
                values.append(value)
            }
            lineNumbers.append(offset + 1)
        }
        guard !lineNumbers.isEmpty, let width else { throw CSVError.empty(file: file) }
        (self.header, self.columns, self.values) = (header, width, values)
        (self.file, self.lineNumbers) = (file, lineNumbers)
    }

    /// The table as a `[rows, columns]` tensor.
    public var tensor: Tensor { Tensor(shape: [rows, columns], scalars: values) }

    /// The columns `range` as a `[rows, range.count]` tensor (e.g. features).
    public func tensor(columns range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= columns,
                     "CSVMatrix.tensor: columns \(range) out of 0..<\(columns)")
        var picked: [Float] = []
        picked.reserveCapacity(rows * range.count)
        for row in 0..<rows { picked.append(contentsOf: values[(row * columns + range.lowerBound)..<(row * columns + range.upperBound)]) }
        return Tensor(shape: [rows, range.count], scalars: picked)
    }

    /// Column `column` (0-based) as an I64 tensor of `[rows]`, e.g. class labels;
    /// throws naming file, line and column if a value is not a whole number.
    public func integerColumn(_ column: Int) throws -> Tensor {
        precondition(column >= 0 && column < columns, "CSVMatrix.integerColumn: column \(column) out of 0..<\(columns)")
        let integers = try (0..<rows).map { row in
            let value = values[row * columns + column]
            guard value.rounded() == value, Swift.abs(value) < 0x1p24 else {
                throw CSVError.notInteger(file: file, line: lineNumbers[row], column: column + 1, value: value)
            }
            return Int(value)
        }
        return Tensor(indices: integers)
    }
}
