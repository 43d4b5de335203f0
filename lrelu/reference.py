"""The oracle: the two NumPy listings lrelu was specified by, verbatim, and what follows.

The source is a Japanese glossary entry on Leaky ReLU, "[活性化関数]Leaky ReLU(Leaky Rectified
Linear Unit)/LReLUとは?" in the series 「AI・機械学習の用語辞典」 (AI and machine-learning
glossary, (c) Digital Advantage Corp.). It defines f(x) = x for x >= 0 and alpha * x
otherwise, takes f'(0) = 1 by convention, and gives two listings: リスト1 (listing 1), lrelu,
and リスト2 (listing 2), der_lrelu. They are below as printed there, but for the indentation,
which the page renders with a no-break space.

Every result lrelu computes is tested against these, value for value. They are also the
baseline the benchmarks measure against.
"""

import numpy as np


# Listing 1 (リスト1) of the glossary entry.
def lrelu(x, alpha=0.01):
    return np.where(x >= 0.0, x, alpha * x)


# Listing 2 (リスト2) of the glossary entry.
def der_lrelu(x, alpha=0.01):
    return np.where(x >= 0.0, 1.0, alpha)


def der_lrelu_typed(x, alpha=0.01):
    """Listing 2 in the dtype listing 1 gives for the same x and alpha (listing 2 itself is
    always float64); this is what lrelu.leaky_relu_derivative returns."""
    return der_lrelu(x, alpha).astype(lrelu(x, alpha).dtype, copy=False)


def backward(grad, x, alpha=0.01):
    """grad * f'(x) for floating grad and x: grad and x cast to the dtype NumPy's promotion
    gives grad, x and alpha together (as any ufunc casts its inputs), then listing 2 in that
    dtype times grad. Under NumPy 2 that cast never narrows; under NumPy 1.x's value-based
    casting a 0-d float64 x beside a float16 grad is compared in float16, as np.multiply
    would compute it."""
    # A Python number stays one (weak under NEP 50, value-based under NumPy 1.x), as it is
    # for the ufunc; anything else is an array.
    weak = alpha if isinstance(alpha, (int, float)) else np.asarray(alpha)
    dtype = np.result_type(np.asarray(grad), np.asarray(x), weak)
    grad, x = np.asarray(grad).astype(dtype, copy=False), np.asarray(x).astype(dtype, copy=False)
    return grad * der_lrelu(x, alpha).astype(dtype, copy=False)
