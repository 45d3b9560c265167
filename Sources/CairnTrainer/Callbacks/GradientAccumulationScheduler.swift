import Foundation

/// Lightning's `GradientAccumulationScheduler`: changes how many batches' gradients are summed
/// per optimizer step as training goes on, from `scheduling` (0-based epoch → factor); each
/// factor holds from its epoch until the next scheduled one.
public final class GradientAccumulationScheduler: Callback, @unchecked Sendable {
    /// Epoch → factor, with epoch 0 at factor 1 added when not given (as Lightning).
    public let scheduling: [Int: Int]
    private let epochs: [Int]

    /// A scheduler; throws when `scheduling` is empty, an epoch is negative or a factor is below 1
    /// (naming the entry).
    public init(scheduling: [Int: Int]) throws {
        let name = "GradientAccumulationScheduler"
        guard !scheduling.isEmpty else {
            throw TrainerError.invalidConfiguration(callback: name, reason: "scheduling is empty; give at least one epoch: factor")
        }
        for (epoch, factor) in scheduling.sorted(by: { $0.key < $1.key }) {
            guard epoch >= 0 else {
                throw TrainerError.invalidConfiguration(callback: name, reason: "epoch \(epoch) (in \(epoch): \(factor)) must be 0 or more")
            }
            guard factor >= 1 else {
                throw TrainerError.invalidConfiguration(callback: name, reason: "factor \(factor) (in \(epoch): \(factor)) must be at least 1")
            }
        }
        var complete = scheduling
        if complete[0] == nil { complete[0] = 1 }
        self.scheduling = complete
        epochs = complete.keys.sorted()
        super.init()
    }

    /// The factor in force during `epoch`: that of the latest scheduled epoch not after it.
    public func accumulateGradBatches(epoch: Int) -> Int {
        guard let start = epochs.last(where: { $0 <= epoch }) else { return 1 }
        return scheduling[start] ?? 1
    }

    /// As Lightning, the trainer's own factor must be left at 1: two sources would conflict.
    override public func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard trainer.options.accumulateGradBatches == 1 else {
            throw TrainerError.invalidConfiguration(
                callback: "GradientAccumulationScheduler",
                reason: "the trainer's accumulateGradBatches is \(trainer.options.accumulateGradBatches); leave it at 1 or remove the callback")
        }
    }

    override public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        trainer.accumulateGradBatches = accumulateGradBatches(epoch: trainer.currentEpoch)
    }
}

extension GradientAccumulationScheduler: RegistrableCallback {
    public static var registryName: String { "GradientAccumulationScheduler" }

    /// `scheduling` is written `epoch:factor` entries separated by `;`, in optional braces: `{0:1;4:2;8:4}`.
    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        guard let text = arguments.string("scheduling") else {
            throw TrainerError.invalidConfiguration(callback: registryName, reason: "scheduling is required, as {epoch:factor;...}")
        }
        var body = Substring(text)
        if body.hasPrefix("{"), body.hasSuffix("}") { body = body.dropFirst().dropLast() }
        var scheduling: [Int: Int] = [:]
        for entry in body.split(separator: ";") {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let epoch = Int(parts[0]), let factor = Int(parts[1]), scheduling[epoch] == nil else {
                throw CallbackSpecError.badValue(callback: registryName, key: "scheduling", value: text,
                                                 expected: "schedule {epoch:factor;...} (entry '\(entry)')")
            }
            scheduling[epoch] = factor
        }
        return try GradientAccumulationScheduler(scheduling: scheduling)
    }
}
