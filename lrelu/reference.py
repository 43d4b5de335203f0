"""The oracle: the two NumPy listings lrelu was specified by, verbatim, and what follows.

The source is a Japanese glossary entry on Leaky ReLU, "[活性化関数]Leaky ReLU(Leaky Rectified
Linear Unit)/LReLUとは?" in the series 「AI・機械学習の用語辞典」 (AI and machine-learning
glossary, (c) Digital Advantage Corp.). It defines f(x) = x for x >= 0 and alpha * x
otherwise, takes f'(0) = 1 by convention, and gives two listings: リスト1 (listing 1), lrelu,
and リスト2 (listing 2), der_lrelu. They are below as printed there, but for the indentation,
which the page renders with a no-break space.

Every result lrelu computes is tested against these, value for value. They are also the
baseline the benchmarks measure against. One function is not from the document and says so:
der_lrelu_at_zero_alpha, PyTorch's convention at 0, for lrelu's at_zero="alpha".
"""

import numpy as np


# Listing 1 (リスト1) of the glossary entry.
def lrelu(x, alpha=0.01):
    return np.where(x >= 0.0, x, alpha * x)


# Listing 2 (リスト2) of the glossary entry.
def der_lrelu(x, alpha=0.01):
    return np.where(x >= 0.0, 1.0, alpha)


# Not from the document: PyTorch's and TensorFlow's convention, which gives alpha at 0.
def der_lrelu_at_zero_alpha(x, alpha=0.01):
    """Listing 2 with ``x > 0.0`` for ``x >= 0.0``: the slope is 1 only where x > 0, so 0 and
    -0.0 get alpha (NaN gets alpha in both). lrelu's ``at_zero="alpha"``."""
    return np.where(x > 0.0, 1.0, alpha)


def nep50_alpha(x, alpha):
    """alpha as NEP 50 (NumPy 2's promotion rule) hands a Python number to the listings beside
    a floating x: rounded to x's dtype. Under NumPy 1.x's value-based casting a 0-d x and a
    Python number are two scalars and the listing gives float64; lrelu follows NEP 50 on
    every NumPy, so its tests give the listings this alpha. Not from the glossary entry."""
    dtype = np.asarray(x).dtype
    if type(alpha) in (int, float) and dtype.kind == "f":   # np.float64 is a float, but strong
        return dtype.type(alpha)
    return alpha


_DERIVATIVES = {"one": der_lrelu, "alpha": der_lrelu_at_zero_alpha}


def der_lrelu_typed(x, alpha=0.01, at_zero="one"):
    """Listing 2 (or, with at_zero="alpha", der_lrelu_at_zero_alpha) in the dtype listing 1
    gives for the same x and alpha (listing 2 itself is always float64); this is what
    lrelu.leaky_relu_derivative returns."""
    return _DERIVATIVES[at_zero](x, alpha).astype(lrelu(x, alpha).dtype, copy=False)


def _common(grad, x, alpha):
    """grad and x cast to the dtype NumPy's promotion gives grad, x and alpha together."""
    # A Python number stays one (weak under NEP 50, value-based under NumPy 1.x), as it is
    # for the ufunc; anything else is an array.
    weak = alpha if isinstance(alpha, (int, float)) else np.asarray(alpha)
    dtype = np.result_type(np.asarray(grad), np.asarray(x), weak)
    return np.asarray(grad).astype(dtype, copy=False), np.asarray(x).astype(dtype, copy=False)


def backward(grad, x, alpha=0.01, at_zero="one"):
    """grad * f'(x) for floating grad and x: grad and x cast to the dtype NumPy's promotion
    gives grad, x and alpha together (as any ufunc casts its inputs), then listing 2 (or
    der_lrelu_at_zero_alpha) in that dtype times grad. Under NumPy 2 that cast never
    narrows; under NumPy 1.x's value-based casting a 0-d float64 x beside a float16 grad is
    compared in float16, as np.multiply would compute it."""
    grad, x = _common(grad, x, alpha)
    return grad * _DERIVATIVES[at_zero](x, alpha).astype(grad.dtype, copy=False)


def prelu_backward(grad, x, alpha, at_zero="one"):
    """(grad_x, grad_alpha) of PReLU, plainly: grad_x = backward(grad, x, alpha, at_zero), and
    grad_alpha = the sum of grad * x where f'(x) is alpha (x < 0 and NaN; also 0 and -0.0
    with at_zero="alpha"), over the axes alpha is broadcast along, with alpha's shape.
    Products and sums in float64 (longdouble for longdouble), by NumPy's pairwise sum."""
    grad_x = backward(grad, x, alpha, at_zero)
    grad, x = _common(grad, x, alpha)
    wide = np.promote_types(grad.dtype, np.float64)
    g, xw = grad.astype(wide), x.astype(wide)
    side = ~(xw > 0) if at_zero == "alpha" else ~(xw >= 0)
    with np.errstate(invalid="ignore", over="ignore"):
        terms = np.where(side, g * xw, 0)
    shape = np.shape(alpha)
    aligned = (1,) * (x.ndim - len(shape)) + shape
    axes = tuple(axis for axis in range(x.ndim) if aligned[axis] == 1)
    return grad_x, terms.sum(axis=axes, keepdims=True).reshape(shape)
