#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Broadcasting binary arithmetic and the operators that spell it.

extension Tensor {
    /// Elementwise sum with broadcasting.
    public func add(_ other: Tensor) -> Tensor {
        let (shape, values) = Tensor.broadcastMap(self, other, op: "add") { $0 + $1 }
        return .result(shape: shape, scalars: values, inputs: [self, other]) { [self] gradient in
            [requiresGrad ? gradient.sumToShape(self.shape) : nil,
             other.requiresGrad ? gradient.sumToShape(other.shape) : nil]
        }
    }

    /// Elementwise difference with broadcasting.
    public func sub(_ other: Tensor) -> Tensor {
        let (shape, values) = Tensor.broadcastMap(self, other, op: "sub") { $0 - $1 }
        return .result(shape: shape, scalars: values, inputs: [self, other]) { [self] gradient in
            [requiresGrad ? gradient.sumToShape(self.shape) : nil,
             other.requiresGrad ? gradient.neg().sumToShape(other.shape) : nil]
        }
    }

    /// Elementwise product with broadcasting.
    public func mul(_ other: Tensor) -> Tensor {
        let (shape, values) = Tensor.broadcastMap(self, other, op: "mul") { $0 * $1 }
        return .result(shape: shape, scalars: values, inputs: [self, other]) { [self] gradient in
            [requiresGrad ? gradient.mul(other).sumToShape(self.shape) : nil,
             other.requiresGrad ? gradient.mul(self).sumToShape(other.shape) : nil]
        }
    }

    /// Elementwise quotient with broadcasting.
    public func div(_ other: Tensor) -> Tensor {
        let (shape, values) = Tensor.broadcastMap(self, other, op: "div") { $0 / $1 }
        return .result(shape: shape, scalars: values, inputs: [self, other]) { [self] gradient in
            [requiresGrad ? gradient.div(other).sumToShape(self.shape) : nil,
             other.requiresGrad ? gradient.mul(self).div(other.mul(other)).neg().sumToShape(other.shape) : nil]
        }
    }

    /// Elementwise power `self ^ exponent` with broadcasting. As in torch, no
    /// gradient flows to the base where the exponent is 0, nor to the exponent
    /// where the base is 0 and the exponent non-negative (avoiding 0 · log 0).
    public func pow(_ exponent: Tensor) -> Tensor {
        let (shape, values) = Tensor.broadcastMap(self, exponent, op: "pow") { powf($0, $1) }
        return .result(shape: shape, scalars: values, inputs: [self, exponent]) { [self] gradient in
            let zero = Tensor(0)
            let baseGradient = requiresGrad
                ? Tensor.where(exponent.eq(0), zero, gradient * exponent * self.pow(exponent - 1)).sumToShape(self.shape)
                : nil
            var exponentGradient: Tensor?
            if exponent.requiresGrad {
                let zeroBase = Tensor.broadcastMap(self, exponent, op: "pow") { $0 == 0 && $1 >= 0 ? 1 : 0 }
                exponentGradient = Tensor.where(Tensor(shape: zeroBase.shape, scalars: zeroBase.scalars), zero,
                                                gradient * Tensor(shape: shape, scalars: values) * self.log())
                    .sumToShape(exponent.shape)
            }
            return [baseGradient, exponentGradient]
        }
    }

    /// Elementwise power by a constant exponent.
    public func pow(_ exponent: Float) -> Tensor {
        let x = scalars
        let y = mapScalars { powf($0, exponent) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in
                exponent == 0 ? 0 : g * exponent * powf(x, exponent - 1)
            }]
        }
    }

    /// Elementwise sum.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.add(rhs) }
    /// Elementwise difference.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.sub(rhs) }
    /// Elementwise product.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.mul(rhs) }
    /// Elementwise quotient.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.div(rhs) }
    /// Adds a constant.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs.add(Tensor(rhs)) }
    /// Subtracts a constant.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs.sub(Tensor(rhs)) }
    /// Multiplies by a constant.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.mul(Tensor(rhs)) }
    /// Divides by a constant.
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { lhs.div(Tensor(rhs)) }
    /// A constant plus a tensor.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs).add(rhs) }
    /// A constant minus a tensor.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs).sub(rhs) }
    /// A constant times a tensor.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs).mul(rhs) }
    /// A constant divided by a tensor.
    public static func / (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs).div(rhs) }
    /// Elementwise negation.
    public static prefix func - (operand: Tensor) -> Tensor { operand.neg() }
}
