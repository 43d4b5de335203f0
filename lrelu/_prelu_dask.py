"""prelu_backward on dask arrays, lazily: nothing is computed until ``.compute()``.

Each block of x (grad is rechunked to x's blocks) runs the NumPy prelu_backward once, which
gives its grad_x block and its partial sums for alpha in their own precision. grad_alpha is
one task that adds each alpha element's partial sums in the fixed order of the blocks and
rounds once to the result dtype: the same chunks give the same bits, whatever the scheduler
or the order in which blocks finish.
"""

import importlib
import operator
from itertools import product

import numpy as np

from ._api import check_prelu_shapes


def _block(prelu, name, grad, x, alpha, index, at_zero):
    """One block: (grad_x, raw sums). alpha is sliced to the block where it varies."""
    if isinstance(alpha, np.ndarray):
        alpha = alpha[index]
    return prelu(name, grad, x, alpha, at_zero, None, raw=True)


def _total(dtype, shape, regions, *pairs):
    """grad_alpha: every block's sums added into its alpha region, in block order."""
    total = None
    for region, (_, sums) in zip(regions, pairs):
        if total is None:
            total = np.zeros(shape, sums.dtype)
        total[region] += sums.reshape(total[region].shape)
    return total.astype(dtype)


def prelu_backward(name, grad, x, alpha, at_zero, prelu):
    # dask is optional: imported by name here, so neither lrelu's import nor its type check
    # needs it
    da = importlib.import_module("dask.array")
    tokenize = importlib.import_module("dask.base").tokenize
    HighLevelGraph = importlib.import_module("dask.highlevelgraph").HighLevelGraph

    x = da.asarray(x)
    grad = da.asarray(grad)
    python_number = not hasattr(alpha, "shape")
    # a lazy alpha is small (alpha's shape): it is computed with the result, as one block
    alpha_array = alpha if python_number else (
        alpha.rechunk(alpha.shape) if hasattr(alpha, "__dask_graph__") else np.asarray(alpha))
    alpha_shape = () if python_number else tuple(alpha_array.shape)
    check_prelu_shapes(name, grad.shape, x.shape, alpha_shape)
    grad = grad.rechunk(x.chunks)
    meta_alpha = alpha if python_number else np.ones((1,) * len(alpha_shape), alpha_array.dtype)
    one = (1,) * x.ndim
    dtype = prelu(name, np.ones(one, grad.dtype), np.ones(one, x.dtype), meta_alpha, at_zero,
                  None)[0].dtype
    lead = x.ndim - len(alpha_shape)
    token = tokenize(grad, x, alpha_array, at_zero, name)
    pairs, grad_x_name, total_name = ("prelu-backward-" + token, "prelu-grad-x-" + token,
                                      "prelu-grad-alpha-" + token)
    offsets = [np.concatenate([[0], np.cumsum(c)]) for c in x.chunks]
    layer, regions, keys = {}, [], []
    alpha_key = None
    if hasattr(alpha_array, "__dask_graph__"):
        alpha_key = (alpha_array.name,) + (0,) * alpha_array.ndim
    for index in product(*(range(n) for n in x.numblocks)):
        # alpha's slice for this block: its own extent on the axes where alpha varies
        region = tuple(slice(offsets[lead + k][index[lead + k]], offsets[lead + k][index[lead + k] + 1])
                       if alpha_shape[k] != 1 else slice(None) for k in range(len(alpha_shape)))
        block_alpha = alpha_key if alpha_key is not None else alpha_array
        key = (pairs,) + index
        layer[key] = (_block, prelu, name, (grad.name,) + index, (x.name,) + index, block_alpha,
                      region, at_zero)
        layer[(grad_x_name,) + index] = (operator.getitem, key, 0)
        regions.append(region)
        keys.append(key)
    layer[(total_name,) + (0,) * len(alpha_shape)] = (_total, dtype, alpha_shape, regions, *keys)
    dependencies = [grad, x] + ([alpha_array] if alpha_key is not None else [])
    graph = HighLevelGraph.from_collections(total_name, layer, dependencies=dependencies)
    grad_x = da.Array(graph, grad_x_name, chunks=x.chunks, dtype=dtype)
    grad_alpha = da.Array(graph, total_name, chunks=tuple((n,) for n in alpha_shape),
                          dtype=dtype)
    return grad_x, grad_alpha
