import CCairnKernels

// Matrix products. Every product, forward and backward, goes through
// `cairn_sgemm`; transposes are expressed with its flags, never materialised.

/// Row-major `C (M×N) (+)= op(A) (M×K) · op(B) (K×N)` on raw pointers.
@inline(__always)
func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
           _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
           accumulate: Bool) {
    guard m > 0, n > 0, k > 0 else { return }
    cairn_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int64(m), Int64(n), Int64(k),
                a, Int64(transposeA ? m : k), b, Int64(transposeB ? k : n), c, Int64(n), accumulate ? 1 : 0)
}

extension Tensor {
    /// Matrix product as torch.matmul: 1-D operands are promoted to a row or
    /// column, and leading (batch) axes broadcast.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 1 && other.rank >= 1, "matmul: shapes \(shape) and \(other.shape) need rank ≥ 1")
        if rank == 1 && other.rank == 1 { return unsqueeze(axis: 0).matmul(other.unsqueeze(axis: 1)).reshape([]) }
        if rank == 1 { return unsqueeze(axis: 0).matmul(other).squeeze(axis: -2) }
        if other.rank == 1 { return matmul(other.unsqueeze(axis: 1)).squeeze(axis: -1) }
        let m = shape[rank - 2], k = shape[rank - 1], n = other.shape[other.rank - 1]
        precondition(other.shape[other.rank - 2] == k, "matmul: shapes \(shape) and \(other.shape) do not align")
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        let batch = Shape.broadcast(batchA, batchB, op: "matmul")
        let pairs = Tensor.batchPairs(batchA, batchB, batch: batch)
        var values = [Float](repeating: 0, count: pairs.count * m * n)
        scalars.withUnsafeBufferPointer { pa in
            other.scalars.withUnsafeBufferPointer { pb in
                values.withUnsafeMutableBufferPointer { pc in
                    guard let a = pa.baseAddress, let b = pb.baseAddress, let c = pc.baseAddress else { return }
                    for (index, pair) in pairs.enumerated() {
                        sgemm(transposeA: false, transposeB: false, m: m, n: n, k: k,
                              a + pair.a * m * k, b + pair.b * k * n, c + index * m * n, accumulate: false)
                    }
                }
            }
        }
        return .result(shape: batch + [m, n], scalars: values, inputs: [self, other]) { [self] gradient in
            var gradA = [Float](repeating: 0, count: self.count), gradB = [Float](repeating: 0, count: other.count)
            gradient.scalars.withUnsafeBufferPointer { pg in
                self.scalars.withUnsafeBufferPointer { pa in
                    other.scalars.withUnsafeBufferPointer { pb in
                        gradA.withUnsafeMutableBufferPointer { da in
                            gradB.withUnsafeMutableBufferPointer { db in
                                guard let g = pg.baseAddress, let a = pa.baseAddress, let b = pb.baseAddress,
                                      let dA = da.baseAddress, let dB = db.baseAddress else { return }
                                for (index, pair) in pairs.enumerated() {
                                    let outgoing = g + index * m * n
                                    if self.requiresGrad {  // dA = G · Bᵀ
                                        sgemm(transposeA: false, transposeB: true, m: m, n: k, k: n,
                                              outgoing, b + pair.b * k * n, dA + pair.a * m * k, accumulate: true)
                                    }
                                    if other.requiresGrad {  // dB = Aᵀ · G
                                        sgemm(transposeA: true, transposeB: false, m: k, n: n, k: m,
                                              a + pair.a * m * k, outgoing, dB + pair.b * k * n, accumulate: true)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return [self.requiresGrad ? Tensor(shape: self.shape, scalars: gradA) : nil,
                    other.requiresGrad ? Tensor(shape: other.shape, scalars: gradB) : nil]
        }
    }

    /// `self · otherᵀ` for `self` of shape `[..., K]` and `other` `[N, K]` (a linear layer's
    /// weight), as one product over every leading row: no transposed copy of `other` and no
    /// per-batch loop of small products.
    public func matmulTransposed(_ other: Tensor) -> Tensor {
        precondition(rank >= 1 && other.rank == 2 && other.shape[1] == shape[rank - 1],
                     "matmulTransposed: shapes \(shape) and \(other.shape) do not align ([..., K] and [N, K])")
        let k = shape[rank - 1], n = other.shape[0], m = k == 0 ? 0 : count / k
        var values = [Float](repeating: 0, count: m * n)
        scalars.withUnsafeBufferPointer { pa in
            other.scalars.withUnsafeBufferPointer { pb in
                values.withUnsafeMutableBufferPointer { pc in
                    guard let a = pa.baseAddress, let b = pb.baseAddress, let c = pc.baseAddress else { return }
                    sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a, b, c, accumulate: false)
                }
            }
        }
        return .result(shape: Array(shape.dropLast()) + [n], scalars: values, inputs: [self, other]) { [self] gradient in
            var gradA = [Float](repeating: 0, count: self.count), gradB = [Float](repeating: 0, count: other.count)
            gradient.scalars.withUnsafeBufferPointer { pg in
                self.scalars.withUnsafeBufferPointer { pa in
                    other.scalars.withUnsafeBufferPointer { pb in
                        gradA.withUnsafeMutableBufferPointer { da in
                            gradB.withUnsafeMutableBufferPointer { db in
                                guard let g = pg.baseAddress, let a = pa.baseAddress, let b = pb.baseAddress,
                                      let dA = da.baseAddress, let dB = db.baseAddress else { return }
                                if self.requiresGrad {  // dA = G · B
                                    sgemm(transposeA: false, transposeB: false, m: m, n: k, k: n, g, b, dA, accumulate: false)
                                }
                                if other.requiresGrad {  // dB = Gᵀ · A
                                    sgemm(transposeA: true, transposeB: false, m: n, n: k, k: m, g, a, dB, accumulate: false)
                                }
                            }
                        }
                    }
                }
            }
            return [self.requiresGrad ? Tensor(shape: self.shape, scalars: gradA) : nil,
                    other.requiresGrad ? Tensor(shape: other.shape, scalars: gradB) : nil]
        }
    }

    /// For each matrix of the broadcast batch, which matrix of A and of B it multiplies.
    static func batchPairs(_ batchA: [Int], _ batchB: [Int], batch: [Int]) -> [(a: Int, b: Int)] {
        let stridesA = Shape.broadcastStrides(batchA, to: batch), stridesB = Shape.broadcastStrides(batchB, to: batch)
        let own = Shape.strides(batch)
        return (0..<Shape.count(batch)).map { flat in
            var a = 0, b = 0
            for axis in 0..<batch.count {
                let coordinate = (flat / own[axis]) % batch[axis]
                a += coordinate * stridesA[axis]
                b += coordinate * stridesB[axis]
            }
            return (a, b)
        }
    }
}
