import Testing
@testable import CairnTensor

@Test func dtypeNamesFollowSafetensors() {
    #expect(DType(rawValue: "BF16") == .bf16)
    #expect(DType.i64.byteSize == 8)
    #expect(DType.allCases.count == 10)
}
