import Foundation

extension Module {
    /// Parameters, buffers and modules among the stored properties, through `Mirror`.
    func reflectedMembers() -> [(name: String, member: Member)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let current = mirror {
            mirrors.append(current)
            mirror = current.superclassMirror
        }
        var found: [(name: String, member: Member)] = []
        for current in mirrors.reversed() {
            for child in current.children {
                guard let label = child.label else { continue }
                let name = Module.snakeCase(label.hasPrefix("_") ? String(label.dropFirst()) : label)
                switch child.value {
                case let parameter as Parameter: found.append((name, .parameter(parameter)))
                case let buffer as Buffer: found.append((name, .buffer(buffer)))
                case let module as Module: found.append((name, .module(module)))
                case let modules as [Module]:
                    for (index, module) in modules.enumerated() { found.append(("\(name).\(index)", .module(module))) }
                case let parameters as [Parameter]:
                    for (index, parameter) in parameters.enumerated() { found.append(("\(name).\(index)", .parameter(parameter))) }
                default: continue  // includes optionals holding nil (a present value casts through)
                }
            }
        }
        return found
    }
}

/// One module's reflected member list, guarded because modules are shared across threads
/// (an async checkpoint save may read the state while another thread first touches it).
final class MemberCache: @unchecked Sendable {
    private let lock = NSLock()
    private var members: [(name: String, member: Module.Member)]?

    func withLock<Result>(_ body: (inout [(name: String, member: Module.Member)]?) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&members)
    }
}
