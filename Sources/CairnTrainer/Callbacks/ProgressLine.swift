import Foundation
import OrderedCollections

/// One TQDM-style bar: `Epoch 3/15:  45%|████▌     | 10/22 [00:01<00:01, 9.10it/s, loss=0.31]`.
struct ProgressLine: Sendable {
    /// The text before the colon.
    let description: String
    /// Batches the loop will take.
    let total: Int
    /// Batches done so far.
    var completed: Int
    /// When the bar started, for the rate and the time left.
    let startedAt: ContinuousClock.Instant
    /// Batches already done when the bar started (a resumed epoch), left out of the rate.
    let completedAtStart: Int

    init(_ description: String, total: Int, completed: Int = 0, startedAt: ContinuousClock.Instant = .now) {
        self.description = description
        self.total = max(total, 0)
        self.completed = completed
        self.startedAt = startedAt
        completedAtStart = completed
    }

    /// Whole percent done (100 for an empty loop).
    var percent: Int { total == 0 ? 100 : min(completed * 100 / total, 100) }

    /// The line, without any cursor control; `width` (when given) truncates it.
    func render(metrics: OrderedDictionary<String, Double>, now: ContinuousClock.Instant = .now, width: Int? = nil) -> String {
        let elapsed = max((now - startedAt).seconds, 0)
        let done = completed - completedAtStart
        let rate = elapsed > 0 && done > 0 ? Double(done) / elapsed : nil
        let remaining = rate.map { Double(max(total - completed, 0)) / $0 }
        var status = "\(Self.clock(elapsed))<\(remaining.map(Self.clock) ?? "?"), \(Self.rateText(rate))"
        for (name, value) in metrics { status += ", \(name)=\(Self.number(value))" }
        let percentText = String(repeating: " ", count: max(0, 3 - String(percent).count)) + "\(percent)%"
        let line = "\(description): \(percentText)|\(Self.bar(fraction: total == 0 ? 1 : Double(completed) / Double(total)))| "
            + "\(completed)/\(total) [\(status)]"
        guard let width, line.count > width else { return line }
        return String(line.prefix(max(width, 0)))
    }

    /// Ten cells of full blocks, then one partial block in eighths, then spaces.
    static func bar(fraction: Double, cells: Int = 10) -> String {
        let eighths = Int((min(max(fraction, 0), 1) * Double(cells * 8)).rounded(.down))
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var text = String(repeating: "█", count: eighths / 8)
        if eighths / 8 < cells { text += partials[eighths % 8] }
        return text + String(repeating: " ", count: cells - text.count)
    }

    /// `mm:ss`, or `h:mm:ss` from an hour on.
    static func clock(_ seconds: Double) -> String {
        let whole = seconds.isFinite ? Int(min(seconds, 359_999).rounded(.down)) : 0
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        let minutesAndSeconds = String(format: "%02d:%02d", minutes, secs)
        return hours > 0 ? "\(hours):\(minutesAndSeconds)" : minutesAndSeconds
    }

    /// `9.10it/s`, or `2.50s/it` when slower than one batch a second, as tqdm.
    static func rateText(_ rate: Double?) -> String {
        guard let rate, rate.isFinite, rate > 0 else { return "?it/s" }
        return rate >= 1 ? String(format: "%.2fit/s", rate) : String(format: "%.2fs/it", 1 / rate)
    }

    /// Three significant digits, as Lightning's bar shows metrics.
    static func number(_ value: Double) -> String { String(format: "%.3g", value) }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
