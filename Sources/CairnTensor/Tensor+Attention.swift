import CCairnKernels
#if canImport(Glibc)
import Glibc
#endif

// Scaled dot-product attention on projections laid out [B, L, H·D], every head's products run
// on the matrix kernel with row strides, so no head is ever permuted or transposed into a copy.

/// `C (M×N) (+)= op(A) · op(B)` with explicit row strides.
@inline(__always)
private func stridedProduct(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                            _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
    guard m > 0, n > 0, k > 0 else { return }
    cairn_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int64(m), Int64(n), Int64(k),
                a, Int64(lda), b, Int64(ldb), c, Int64(ldc), accumulate ? 1 : 0)
}

extension Tensor {
    /// `softmax(q·kᵀ, masking: mask)·v` per head, for `q` `[B, T, H·D]` (already scaled) and
    /// `k`, `v` `[B, S, H·D]`; `mask` (nonzero closes a place) broadcasts to `[B, H, T, S]`.
    /// The result is `[B, T, H·D]`, heads side by side, as attention's output projection reads it.
    public static func multiHeadAttention(query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, mask: Tensor? = nil) -> Tensor {
        precondition(q.rank == 3 && k.rank == 3 && v.shape == k.shape && q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2],
                     "multiHeadAttention: shapes \(q.shape), \(k.shape), \(v.shape) are not [B, T, E], [B, S, E], [B, S, E]")
        let batch = q.shape[0], targets = q.shape[1], sources = k.shape[1], width = q.shape[2]
        precondition(heads > 0 && width % heads == 0, "multiHeadAttention: \(heads) heads do not divide width \(width)")
        let depth = width / heads
        let scoreShape = [batch, heads, targets, sources]
        var scores = [Float](repeating: 0, count: batch * heads * targets * sources)
        q.scalars.withUnsafeBufferPointer { pq in
            k.scalars.withUnsafeBufferPointer { pk in
                scores.withUnsafeMutableBufferPointer { ps in
                    guard let qb = pq.baseAddress, let kb = pk.baseAddress, let sb = ps.baseAddress else { return }
                    for b in 0..<batch {
                        for h in 0..<heads {
                            stridedProduct(transposeA: false, transposeB: true, m: targets, n: sources, k: depth,
                                           qb + b * targets * width + h * depth, width, kb + b * sources * width + h * depth, width,
                                           sb + ((b * heads + h) * targets) * sources, sources, accumulate: false)
                        }
                    }
                }
            }
        }
        let scoreTensor = Tensor(shape: scoreShape, scalars: scores)
        let probabilities = (mask.map { scoreTensor.softmax(axis: -1, masking: $0) } ?? scoreTensor.softmax(axis: -1)).scalars
        var output = [Float](repeating: 0, count: batch * targets * width)
        probabilities.withUnsafeBufferPointer { pp in
            v.scalars.withUnsafeBufferPointer { pv in
                output.withUnsafeMutableBufferPointer { po in
                    guard let pb = pp.baseAddress, let vb = pv.baseAddress, let ob = po.baseAddress else { return }
                    for b in 0..<batch {
                        for h in 0..<heads {
                            stridedProduct(transposeA: false, transposeB: false, m: targets, n: depth, k: sources,
                                           pb + ((b * heads + h) * targets) * sources, sources, vb + b * sources * width + h * depth, width,
                                           ob + b * targets * width + h * depth, width, accumulate: false)
                        }
                    }
                }
            }
        }
        return .result(shape: [batch, targets, width], scalars: output, inputs: [q, k, v]) { gradient in
            var gradQ = [Float](repeating: 0, count: q.count), gradK = [Float](repeating: 0, count: k.count)
            var gradV = [Float](repeating: 0, count: v.count)
            var gradScores = [Float](repeating: 0, count: probabilities.count)
            gradient.scalars.withUnsafeBufferPointer { pg in
                probabilities.withUnsafeBufferPointer { pp in
                    q.scalars.withUnsafeBufferPointer { pq in
                        k.scalars.withUnsafeBufferPointer { pk in
                            v.scalars.withUnsafeBufferPointer { pv in
                                gradScores.withUnsafeMutableBufferPointer { pds in
                                    gradQ.withUnsafeMutableBufferPointer { dq in
                                        gradK.withUnsafeMutableBufferPointer { dk in
                                            gradV.withUnsafeMutableBufferPointer { dv in
                                                guard let g = pg.baseAddress, let p = pp.baseAddress, let qb = pq.baseAddress,
                                                      let kb = pk.baseAddress, let vb = pv.baseAddress, let ds = pds.baseAddress,
                                                      let dqb = dq.baseAddress, let dkb = dk.baseAddress, let dvb = dv.baseAddress else { return }
                                                for b in 0..<batch {
                                                    for h in 0..<heads {
                                                        let scoreBase = ((b * heads + h) * targets) * sources
                                                        let qOffset = b * targets * width + h * depth, kvOffset = b * sources * width + h * depth
                                                        // dP = G · Vᵀ, then the softmax backward in place.
                                                        stridedProduct(transposeA: false, transposeB: true, m: targets, n: sources, k: depth,
                                                                       g + qOffset, width, vb + kvOffset, width, ds + scoreBase, sources, accumulate: false)
                                                        for row in 0..<targets {
                                                            let base = scoreBase + row * sources
                                                            var dot: Float = 0
                                                            for column in 0..<sources { dot += ds[base + column] * p[base + column] }
                                                            for column in 0..<sources { ds[base + column] = p[base + column] * (ds[base + column] - dot) }
                                                        }
                                                        // dQ = dS · K, dK = dSᵀ · Q, dV = Pᵀ · G.
                                                        stridedProduct(transposeA: false, transposeB: false, m: targets, n: depth, k: sources,
                                                                       ds + scoreBase, sources, kb + kvOffset, width, dqb + qOffset, width, accumulate: false)
                                                        stridedProduct(transposeA: true, transposeB: false, m: sources, n: depth, k: targets,
                                                                       ds + scoreBase, sources, qb + qOffset, width, dkb + kvOffset, width, accumulate: false)
                                                        stridedProduct(transposeA: true, transposeB: false, m: sources, n: depth, k: targets,
                                                                       p + scoreBase, sources, g + qOffset, width, dvb + kvOffset, width, accumulate: false)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return [q.requiresGrad ? Tensor(shape: q.shape, scalars: gradQ) : nil,
                    k.requiresGrad ? Tensor(shape: k.shape, scalars: gradK) : nil,
                    v.requiresGrad ? Tensor(shape: v.shape, scalars: gradV) : nil]
        }
    }
}
