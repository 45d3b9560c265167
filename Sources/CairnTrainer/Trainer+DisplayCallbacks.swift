extension Trainer {
    /// The progress bar and model summary the options ask for and `given` lacks, as Lightning adds
    /// its defaults. They print only to a terminal: a script or a test run that wants them passes its own.
    static func defaultDisplayCallbacks(_ options: Options, given: [Callback]) -> [Callback] {
        var defaults: [Callback] = []
        if options.enableModelSummary, !given.contains(where: { $0 is ModelSummaryCallback }) {
            defaults.append(ModelSummaryCallback(onlyOnTerminal: true))
        }
        if options.enableProgressBar, !given.contains(where: { $0 is ProgressBar }) {
            defaults.append(ProgressBar(onlyOnTerminal: true))
        }
        return defaults
    }
}
