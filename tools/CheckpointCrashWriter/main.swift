// Saves checkpoints to one path forever, for the crash test to SIGKILL at
// random moments. Usage: CheckpointCrashWriter <path>
import CairnCheckpoint
import Foundation

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: CheckpointCrashWriter <path>\n".utf8))
    exit(2)
}
let target = URL(fileURLWithPath: CommandLine.arguments[1])
// Small chunks make each save many SQLite writes, so kills land inside them.
let options = CheckpointSaveOptions(chunkSize: 64 << 10, producer: "crash-writer")
// Random bytes read once; each round saves different windows of them, so
// chunks rarely repeat and every save writes megabytes.
let poolSize = 4 << 20
guard let pool = FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: poolSize * 2), pool.count == poolSize * 2 else {
    FileHandle.standardError.write(Data("cannot read /dev/urandom\n".utf8))
    exit(1)
}
var round: Int64 = 0
var generator = SystemRandomNumberGenerator()
while true {
    round += 1
    var entries: [(CheckpointKey, CheckpointValue)] = []
    for layer in 0..<4 {
        let count = Int.random(in: 50_000...250_000, using: &generator)
        let start = Int.random(in: 0..<poolSize, using: &generator)
        let bytes = [UInt8](pool[start ..< start + count * 4])
        entries.append((.string("layer\(layer).weight"), .tensor(CheckpointTensor(dtype: .f32, shape: [count], bytes: bytes))))
    }
    let stateDict = CheckpointValue.dictionary(.init(uniqueKeysWithValues: entries))
    let tree: CheckpointValue = .dictionary([
        "epoch": .int(round), "global_step": .int(round * 10), "state_dict": stateDict,
    ])
    do {
        try Checkpoint.save(tree, to: target, options: options)
    } catch {
        FileHandle.standardError.write(Data("save failed: \(error)\n".utf8))
        exit(1)
    }
}
