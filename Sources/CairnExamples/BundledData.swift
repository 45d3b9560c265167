import Foundation

/// The data files shipped with the examples as package resources, so `cairn fit` trains from any folder.
public enum BundledData {
    /// Why a bundled data file could not be found.
    public struct MissingResource: Error, CustomStringConvertible, Sendable {
        /// The file asked for.
        public var name: String
        /// The folders searched.
        public var searched: [String]
        public var description: String {
            "the bundled \(name) was not found (looked in \(searched.joined(separator: ", "))); pass the file with --data"
        }
    }

    /// SwiftPM's resource folder for this target, beside the executable or test bundle.
    public static let bundleName = "Cairn_CairnExamples.resources"

    /// `digits.csv`: the UCI optical digits data set (1797 rows of 64 pixels and a label).
    public static func digitsCSV() throws -> URL { try url(of: "digits.csv") }

    /// `fortunes.txt`: 1.18 MB of English, Debian 12's `fortunes` files (BSD licence), for the character LM.
    public static func fortunesText() throws -> URL { try url(of: "fortunes.txt") }

    /// The bundled file `name`.
    ///
    /// SwiftPM's generated `Bundle.module` stops the program when the resource folder is
    /// missing (a binary copied elsewhere without it); this looks in the same places and
    /// throws instead.
    public static func url(of name: String) throws -> URL {
        var folders: [URL] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            folders.append(executable.deletingLastPathComponent())
        }
        folders.append(Bundle.main.bundleURL)
        folders.append(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent())
        for folder in folders {
            let candidate = folder.appendingPathComponent(bundleName).appendingPathComponent(name)
            if FileManager.default.isReadableFile(atPath: candidate.path) { return candidate }
        }
        throw MissingResource(name: name, searched: folders.map { $0.appendingPathComponent(bundleName).path })
    }
}
