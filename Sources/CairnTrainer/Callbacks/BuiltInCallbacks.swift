extension CallbackRegistry {
    /// Every callback Cairn ships, registered under its name in each new registry
    /// (one line per callback; the article <doc:BuiltInCallbacks> describes them).
    public static var builtIns: [any RegistrableCallback.Type] {
        [
            Counter.self,
            ModelCheckpoint.self,
            EarlyStopping.self,
            OnExceptionCheckpoint.self,
            TrainingTimer.self,
            GradientAccumulationScheduler.self,
            BackboneFinetuning.self,
            EMAWeightAveraging.self,
            StochasticWeightAveraging.self,
            LearningRateFinder.self,
            BatchSizeFinder.self,
            ProgressBar.self,
            ModelSummaryCallback.self,
            LearningRateMonitor.self,
            DeviceStatsMonitor.self,
            ThroughputMonitor.self,
            SpikeDetection.self,
            PredictionWriter.self,
        ]
    }
}
