import CairnTensor
print("matmul benchmark: not written yet")
