@testable import CairnTrainer
import Foundation
import Testing

@Suite struct CallbackRegistryTests {
    @Test func builtInsAreBuiltFromSpecs() throws {
        let registry = CallbackRegistry()
        let counter = try #require(try registry.make("Counter:what=batches,verbose=false") as? Counter)
        #expect(counter.what == .batches)
        let checkpoint = try #require(
            try registry.make("ModelCheckpoint:monitor=val_acc,mode=max,save_top_k=2,save_last=true") as? ModelCheckpoint)
        #expect(checkpoint.monitor == "val_acc")
        #expect(checkpoint.mode == .max)
        #expect(checkpoint.saveTopK == 2)
        #expect(checkpoint.saveLast)
        #expect(try registry.make("Counter") is Counter)
    }

    @Test func errorsNameTheProblem() {
        let registry = CallbackRegistry()
        #expect(throws: CallbackSpecError.unknownCallback(name: "Nope", known: registry.names)) {
            try registry.make("Nope:x=1")
        }
        #expect(throws: CallbackSpecError.badValue(callback: "ModelCheckpoint", key: "save_top_k", value: "many",
                                                   expected: "integer")) {
            try registry.make("ModelCheckpoint:save_top_k=many")
        }
        #expect(throws: CallbackSpecError.unknownKey(callback: "Counter", key: "colour")) { try registry.make("Counter:colour=red") }
        #expect(throws: CallbackSpecError.self) { try registry.make("Counter:what") }
        #expect(throws: TrainerError.self) { try registry.make("ModelCheckpoint:every_n_train_steps=2,every_n_epochs=1") }
    }

    @Test func registrationFromManyThreadsIsSafe() async {
        let registry = CallbackRegistry()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask { registry.register("Custom\(index)") { _ in Counter() } }
                group.addTask { _ = registry.names }
            }
        }
        #expect(registry.names.count == 50 + CallbackRegistry.builtIns.count)
        #expect(throws: Never.self) { try registry.make("Custom7") }
    }
}
