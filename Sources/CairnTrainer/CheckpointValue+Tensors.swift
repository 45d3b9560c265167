import CairnCheckpoint
import CairnTensor
import CairnTensorCheckpoint
import OrderedCollections

extension CheckpointValue {
    /// A dictionary of tensors by name, as `state_dict` and the weight-averaging states hold them.
    init(tensors: OrderedDictionary<String, Tensor>) {
        var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, tensor) in tensors { entries[.string(name)] = .tensor(CheckpointTensor(tensor)) }
        self = .dictionary(entries)
    }

    /// The tensors of a dictionary by key; `path` names the entry in errors.
    func tensorDictionary(path: String) throws -> OrderedDictionary<String, Tensor> {
        guard case let .dictionary(entries) = self else {
            throw TrainerError.malformedCheckpoint(path: path, reason: "missing or not a dictionary")
        }
        var tensors = OrderedDictionary<String, Tensor>()
        for (key, value) in entries {
            guard case let .tensor(tensor) = value else {
                throw TrainerError.malformedCheckpoint(path: "\(path)/\(key)", reason: "expected a tensor")
            }
            tensors[key.token] = try Tensor(tensor, name: "\(path)/\(key)")
        }
        return tensors
    }
}
