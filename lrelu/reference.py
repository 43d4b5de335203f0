"""The oracle: the source document's two NumPy listings, verbatim, and what follows from them.

Every result lrelu computes is tested against these, value for value. They are also the
baseline the benchmarks measure against.
"""

import numpy as np


# Listing 1 of the document.
def lrelu(x, alpha=0.01):
    return np.where(x >= 0.0, x, alpha * x)


# Listing 2 of the document.
def der_lrelu(x, alpha=0.01):
    return np.where(x >= 0.0, 1.0, alpha)


def der_lrelu_typed(x, alpha=0.01):
    """Listing 2 in the dtype listing 1 gives for the same x and alpha (listing 2 itself is
    always float64); this is what lrelu.leaky_relu_derivative returns."""
    return der_lrelu(x, alpha).astype(lrelu(x, alpha).dtype, copy=False)


def backward(grad, x, alpha=0.01):
    """grad * f'(x) for floating grad and x: listing 2, cast to the common dtype of grad and
    listing 1, times grad in that dtype."""
    dtype = np.result_type(np.asarray(grad).dtype, lrelu(x, alpha).dtype)
    return np.asarray(grad).astype(dtype, copy=False) * der_lrelu(x, alpha).astype(dtype, copy=False)
