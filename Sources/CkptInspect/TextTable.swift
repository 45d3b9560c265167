/// Columns of text padded to a common width; numbers align right.
struct TextTable {
    var headers: [String]
    var rightAligned: Set<Int> = []
    var rows: [[String]] = []

    mutating func add(_ row: [String]) { rows.append(row) }

    /// The table, header first; `style` bolds the header on a terminal.
    func rendered(_ style: TextStyle) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: max(0, widths[column] - cell.count))
                if column == cells.count - 1, !rightAligned.contains(column) { return cell }
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }.joined(separator: "  ")
        }
        return ([style.bold(line(headers))] + rows.map(line)).joined(separator: "\n")
    }
}

/// Byte counts as people read them: 512 B, 1.5 KiB, 24.0 MiB.
func humanBytes(_ count: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
}

/// A shape as `[2, 3]`.
func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

/// A number short enough for a table cell.
func shortNumber(_ value: Double?) -> String {
    guard let value else { return "-" }
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return String(format: "%.6g", value)
}
