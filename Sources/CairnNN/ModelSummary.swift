import CairnTensor
import Foundation

/// Collects the output shape of every module called while a summary runs.
final class ShapeRecorder: @unchecked Sendable {
    @TaskLocal static var current: ShapeRecorder?

    private let lock = NSLock()
    private var shapes: [ObjectIdentifier: [Int]] = [:]

    func record(_ module: Module, _ shape: [Int]) {
        lock.lock()
        defer { lock.unlock() }
        shapes[ObjectIdentifier(module)] = shape
    }

    func shape(of module: Module) -> [Int]? {
        lock.lock()
        defer { lock.unlock() }
        return shapes[ObjectIdentifier(module)]
    }
}

/// A per-submodule table of a model: type, parameter counts, output shape for a sample input, totals.
public struct ModelSummary: Sendable, CustomStringConvertible {
    /// One row of the table.
    public struct Row: Sendable, Equatable {
        /// Dotted path of the submodule ("" for the model itself).
        public var name: String
        /// The module's type name.
        public var type: String
        /// Parameters owned by this module and its descendants.
        public var parameterCount: Int
        /// Whether any of those parameters is trainable.
        public var isTrainable: Bool
        /// Shape of the module's output for the sample input, if it was called.
        public var outputShape: [Int]?
    }

    /// Rows in module order, starting with the model itself.
    public let rows: [Row]
    /// All parameter elements.
    public let totalParameters: Int
    /// Elements of parameters that are not frozen.
    public let trainableParameters: Int
    /// Bytes taken by parameters and buffers.
    public let sizeInBytes: Int

    /// Runs `sampleInput` through `model` without gradients (mode unchanged) to learn output
    /// shapes; without a sample input the rows have no output shape.
    public init(_ model: Module, sampleInput: Tensor?) {
        let recorder = ShapeRecorder()
        if let sampleInput {
            ShapeRecorder.$current.withValue(recorder) {
                withNoGrad { _ = model(sampleInput) }
            }
        }
        rows = model.namedModules().map { name, module in
            let parameters = module.parameters()
            return Row(name: name, type: String(describing: type(of: module)),
                       parameterCount: parameters.reduce(0) { $0 + $1.value.count },
                       isTrainable: parameters.contains { !$0.isFrozen },
                       outputShape: recorder.shape(of: module))
        }
        let parameters = model.parameters()
        totalParameters = parameters.reduce(0) { $0 + $1.value.count }
        trainableParameters = parameters.filter { !$0.isFrozen }.reduce(0) { $0 + $1.value.count }
        sizeInBytes = model.stateDict().values.reduce(0) { $0 + $1.count * $1.dtype.byteSize }
    }

    public var description: String {
        var lines = ["name | type | params | trainable | output"]
        for row in rows {
            let shape = row.outputShape.map { "\($0)" } ?? "-"
            lines.append("\(row.name.isEmpty ? "(model)" : row.name) | \(row.type) | \(row.parameterCount) | \(row.isTrainable) | \(shape)")
        }
        lines.append("total params: \(totalParameters), trainable: \(trainableParameters), size: \(sizeInBytes) bytes")
        return lines.joined(separator: "\n")
    }
}
