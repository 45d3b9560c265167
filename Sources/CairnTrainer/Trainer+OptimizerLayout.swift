import CairnOptim

/// A callback that reshapes the freshly configured optimizer (its param groups) before a
/// checkpoint's optimizer state is loaded into it. Cairn restores the optimizer state before
/// `onFitStart` (Lightning does it after), so a callback that added param groups during the
/// saved run re-creates them here, or the saved state would not fit.
protocol OptimizerLayoutRestoring: Callback {
    /// Re-creates the param groups the saved run had; called in fit right after `configureOptimizers`.
    func restoreOptimizerLayout(_ optimizer: Optimizer, module: TrainingModule) throws
}

extension Trainer {
    /// Lets every ``OptimizerLayoutRestoring`` callback reshape `optimizer`, in callback order.
    func restoreOptimizerLayouts(_ optimizer: Optimizer, module: TrainingModule) throws {
        for case let callback as OptimizerLayoutRestoring in callbacks {
            try callback.restoreOptimizerLayout(optimizer, module: module)
        }
    }
}
