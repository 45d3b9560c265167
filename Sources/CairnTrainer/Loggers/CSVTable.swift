import Foundation

/// A CSV file as a header and rows of text cells: RFC 4180 quoting (cells holding a comma, a
/// quote or a line break are quoted, quotes doubled), one `\n` after every row.
struct CSVTable: Equatable {
    var header: [String]
    var rows: [[String]]

    init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    /// Reads `file`; an empty file is a table with no columns.
    init(contentsOf file: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw LoggerError.io(path: file.path, reason: "cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LoggerError.io(path: file.path, reason: "not UTF-8 text")
        }
        let records = try Self.parse(text, file: file.path)
        header = records.first ?? []
        rows = Array(records.dropFirst())
    }

    var text: String { ([header] + rows).map(Self.line).joined() }

    /// One record and its line break.
    static func line(_ cells: [String]) -> String {
        cells.map { cell in
            cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
        }.joined(separator: ",") + "\n"
    }

    /// The records of `text`; a cut-off last line (a run killed mid-write) is dropped.
    static func parse(_ text: String, file: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var cell = ""
        var quoted = false
        var iterator = Array(text.unicodeScalars).makeIterator()
        var lookahead: Unicode.Scalar?
        func next() -> Unicode.Scalar? {
            if let scalar = lookahead { lookahead = nil; return scalar }
            return iterator.next()
        }
        while let scalar = next() {
            if quoted {
                if scalar == "\"" {
                    let following = next()
                    if following == "\"" { cell.unicodeScalars.append("\"") } else { quoted = false; lookahead = following }
                } else {
                    cell.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where cell.isEmpty: quoted = true
            case ",": record.append(cell); cell = ""
            case "\r": continue
            case "\n":
                record.append(cell)
                records.append(record)
                record = []
                cell = ""
            default: cell.unicodeScalars.append(scalar)
            }
        }
        if quoted { throw LoggerError.io(path: file, reason: "unterminated quoted cell in row \(records.count)") }
        return records
    }
}
