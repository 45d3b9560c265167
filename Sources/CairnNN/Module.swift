import CairnTensor
import OrderedCollections

/// The base of every layer and model: parameters, buffers and child modules are
/// found by name through reflection over stored properties, in declaration order.
///
/// Subclasses declare `let weight: Parameter`, `let bias: Parameter?`, `let runningMean: Buffer`
/// (saved as `running_mean`), `let encoder: Module` or `let blocks: [Module]` and override
/// ``forward(_:)``.
open class Module: @unchecked Sendable {
    /// Whether the module is in training mode (dropout active, batch statistics used).
    public private(set) var isTraining = true

    /// What reflection found, kept per instance (members are object references, so in-place
    /// value updates of parameters and buffers never make it stale).
    private let memberCache = MemberCache()

    public init() {}

    /// Computes the output; subclasses override.
    open func forward(_ input: Tensor) -> Tensor {
        preconditionFailure("forward: \(type(of: self)) does not override forward(_:)")
    }

    /// Calls ``forward(_:)``, recording the output shape when a summary is being taken.
    public final func callAsFunction(_ input: Tensor) -> Tensor {
        let output = forward(input)
        ShapeRecorder.current?.record(self, output.shape)
        return output
    }

    /// One named item found on a module.
    public enum Member: Sendable {
        case parameter(Parameter)
        case buffer(Buffer)
        case module(Module)
    }

    /// This module's own members in declaration order (base-class properties first).
    /// Arrays of modules appear as `name.0`, `name.1`, …; override to rename.
    ///
    /// Found by reflection on first use and then remembered, because reflection costs far more
    /// than a checkpoint save can spare. Hold parameters, buffers and child modules in `let`
    /// properties; a subclass that reassigns one (a `var`) must call ``membersDidChange()`` after.
    open var members: [(name: String, member: Member)] {
        memberCache.withLock { cached in
            if let cached { return cached }
            let found = reflectedMembers()
            cached = found
            return found
        }
    }

    /// Forgets the remembered ``members``, so the next use reflects over the properties again.
    /// Call it after reassigning a property that holds a parameter, buffer or module.
    public final func membersDidChange() {
        memberCache.withLock { $0 = nil }
    }

    /// Direct child modules with their names.
    public final var namedChildren: [(name: String, module: Module)] {
        members.compactMap { entry in
            if case let .module(module) = entry.member { return (entry.name, module) }
            return nil
        }
    }

    /// This module (named "") and every descendant, depth first, with dotted paths. A module
    /// reached twice (shared layers) is listed once, at its first path, as torch's `named_modules`.
    public final func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        var seen = Set<ObjectIdentifier>()
        return allPaths(prefix: prefix).filter { seen.insert(ObjectIdentifier($0.module)).inserted }
    }

    /// Every path to every module, shared modules once per path (the `state_dict` traversal).
    final func allPaths(prefix: String = "") -> [(name: String, module: Module)] {
        var result: [(name: String, module: Module)] = [(prefix, self)]
        for (name, child) in namedChildren {
            result += child.allPaths(prefix: Module.join(prefix, name))
        }
        return result
    }

    /// Every parameter with its dotted path, own parameters before those of children (torch
    /// order); a shared (tied) parameter appears once, so optimizers update it once.
    public final func namedParameters() -> [(name: String, parameter: Parameter)] {
        Module.firstOccurrences(parameterPaths(), of: \.parameter)
    }

    /// Every buffer with its dotted path, each shared buffer once.
    public final func namedBuffers() -> [(name: String, buffer: Buffer)] {
        Module.firstOccurrences(bufferPaths(), of: \.buffer)
    }

    final func parameterPaths() -> [(name: String, parameter: Parameter)] {
        memberPaths { if case let .parameter(parameter) = $0 { parameter } else { nil } }.map { ($0.name, $0.item) }
    }

    final func bufferPaths() -> [(name: String, buffer: Buffer)] {
        memberPaths { if case let .buffer(buffer) = $0 { buffer } else { nil } }.map { ($0.name, $0.item) }
    }

    /// The members `pick` selects, under every path of every module.
    private final func memberPaths<Item>(_ pick: (Member) -> Item?) -> [(name: String, item: Item)] {
        allPaths().flatMap { path, module in
            module.members.compactMap { entry in pick(entry.member).map { (Module.join(path, entry.name), $0) } }
        }
    }

    private static func firstOccurrences<Entry>(_ entries: [Entry], of object: (Entry) -> AnyObject) -> [Entry] {
        var seen = Set<ObjectIdentifier>()
        return entries.filter { seen.insert(ObjectIdentifier(object($0))).inserted }
    }

    /// Every parameter, in ``namedParameters()`` order.
    public final func parameters() -> [Parameter] { namedParameters().map(\.parameter) }

    /// The parameters that are not frozen.
    public final func trainableParameters() -> [Parameter] { parameters().filter { !$0.isFrozen } }

    /// Parameters and buffers by path, in PyTorch's `state_dict` order: for each
    /// module (depth first) its own parameters, then its own buffers.
    public final func stateDict() -> OrderedDictionary<String, Tensor> {
        var result = OrderedDictionary<String, Tensor>()
        // Like torch, every path is saved, so a tied weight appears under each of its names, as one
        // tensor object: an export then writes its bytes once, as torch.save does.
        var detached: [ObjectIdentifier: Tensor] = [:]
        for (path, module) in allPaths() {
            for entry in module.members {
                switch entry.member {
                case let .parameter(parameter):
                    let tensor = detached[ObjectIdentifier(parameter)] ?? parameter.value.detach()
                    detached[ObjectIdentifier(parameter)] = tensor
                    result[Module.join(path, entry.name)] = tensor
                case .buffer, .module: continue
                }
            }
            for entry in module.members {
                if case let .buffer(buffer) = entry.member { result[Module.join(path, entry.name)] = buffer.value }
            }
        }
        return result
    }

    /// Replaces parameters and buffers from `state`. Every problem (missing keys when
    /// `strict`, unexpected keys when `strict`, shape or dtype mismatches) is reported in
    /// one ``StateDictError``, and on error nothing changes.
    public final func loadStateDict(_ state: OrderedDictionary<String, Tensor>, strict: Bool = true) throws {
        let parameters = Dictionary(parameterPaths().map { ($0.name, $0.parameter) }) { first, _ in first }
        let buffers = Dictionary(bufferPaths().map { ($0.name, $0.buffer) }) { first, _ in first }
        let expected = stateDict()
        var report = StateDictError(missing: [], unexpected: [], mismatched: [])
        for (key, current) in expected {
            guard let incoming = state[key] else {
                if strict { report.missing.append(key) }
                continue
            }
            if incoming.shape != current.shape || incoming.dtype != current.dtype {
                report.mismatched.append(.init(key: key, expectedShape: current.shape, expectedDType: current.dtype,
                                               actualShape: incoming.shape, actualDType: incoming.dtype))
            }
        }
        if strict { report.unexpected = state.keys.filter { expected[$0] == nil } }
        guard report.isEmpty else { throw report }
        for (key, incoming) in state {
            if let parameter = parameters[key] {
                parameter.value = incoming
            } else if let buffer = buffers[key] {
                buffer.value = incoming.detach()
            }
        }
    }

    /// Switches this module and all descendants to training mode.
    public final func train(_ on: Bool = true) {
        for (_, module) in namedModules() { module.isTraining = on }
    }

    /// Switches this module and all descendants to evaluation mode.
    public final func eval() { train(false) }

    /// Freezes every parameter (no gradients; optimizers skip them).
    public final func freeze() { for parameter in parameters() { parameter.isFrozen = true } }

    /// Makes every parameter trainable again.
    public final func unfreeze() { for parameter in parameters() { parameter.isFrozen = false } }

    /// Swift property names become PyTorch-style keys: `runningMean` → `running_mean`.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result += "_" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }
}

/// Why ``Module/loadStateDict(_:strict:)`` refused a state dict: every problem at once.
public struct StateDictError: Error, Equatable, Sendable, CustomStringConvertible {
    /// One tensor whose shape or dtype differs from the model's.
    public struct Mismatch: Equatable, Sendable {
        public var key: String
        public var expectedShape: [Int]
        public var expectedDType: DType
        public var actualShape: [Int]
        public var actualDType: DType
    }

    /// Keys the model has but the state dict lacks.
    public var missing: [String]
    /// Keys the state dict has but the model lacks.
    public var unexpected: [String]
    /// Keys present on both sides with a different shape or dtype.
    public var mismatched: [Mismatch]

    var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var lines = ["loadStateDict failed:"]
        if !missing.isEmpty { lines.append("  missing keys: \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { lines.append("  unexpected keys: \(unexpected.joined(separator: ", "))") }
        for mismatch in mismatched {
            lines.append("  \(mismatch.key): expected \(mismatch.expectedDType.rawValue) \(mismatch.expectedShape), "
                         + "got \(mismatch.actualDType.rawValue) \(mismatch.actualShape)")
        }
        return lines.joined(separator: "\n")
    }
}
