import Foundation

/// Damages a file the way a bad disk would: XORs `mask` into the byte at `offset`
/// of every place where `needle` occurs, and returns how many places that was.
///
/// Every place, because SQLite may leave stale copies of a cell in free space
/// after a page split; damaging only the first match could miss the live data.
@discardableResult
public func damage(_ url: URL, where needle: Data, atOffset offset: Int = 0, mask: UInt8 = 0x04) throws -> Int {
    var data = try Data(contentsOf: url)
    var searchStart = data.startIndex
    var places = 0
    while let found = data.range(of: needle, in: searchStart..<data.endIndex) {
        data[found.lowerBound + offset] ^= mask
        places += 1
        searchStart = found.upperBound
    }
    try data.write(to: url)
    return places
}
