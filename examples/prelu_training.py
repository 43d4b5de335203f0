"""A PReLU layer (Leaky ReLU with one learned slope per channel) trained by SGD on NumPy
arrays, with lrelu.leaky_relu forward and lrelu.prelu_backward for both gradients.

It learns the slopes of a known PReLU from its outputs, by the mean squared error:

    python examples/prelu_training.py                 # 100 batches of (8, 3, 16, 16)
    python examples/prelu_training.py --batches 300 --size 64
"""

import argparse

import numpy as np
from numpy.typing import NDArray

import lrelu


class PReLU:
    """Leaky ReLU with one learned slope per channel of (N, C, H, W) batches."""

    def __init__(self, channels: int, alpha: float = 0.25) -> None:
        self.alpha = np.full((channels, 1, 1), alpha, dtype=np.float32)
        self.grad_alpha = np.zeros_like(self.alpha)
        self.x = np.empty((0, channels, 0, 0), dtype=np.float32)

    def forward(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        self.x = x                                   # the backward pass needs the input
        return lrelu.leaky_relu(x, self.alpha)

    def backward(self, grad: NDArray[np.float32]) -> NDArray[np.float32]:
        # dL/dx into grad itself (out=grad), dL/dalpha summed over N, H and W
        grad_x, self.grad_alpha = lrelu.prelu_backward(grad, self.x, self.alpha, out=grad)
        return grad_x

    def step(self, learning_rate: float) -> None:
        self.alpha -= learning_rate * self.grad_alpha


def train(batches: int, size: int) -> PReLU:
    rng = np.random.default_rng(0)
    true_alpha = np.array([0.05, 0.2, 0.5], dtype=np.float32).reshape(3, 1, 1)
    layer = PReLU(channels=3)
    for _ in range(batches):
        x = rng.standard_normal((8, 3, size, size), dtype=np.float32)
        y = layer.forward(x)
        grad = (y - lrelu.leaky_relu(x, true_alpha)) * (2 / y.size)     # d(mean squared error)/dy
        layer.backward(grad)
        layer.step(learning_rate=1.0)
    error = float(np.abs(layer.alpha - true_alpha).max())
    print(f"{batches} batches of (8, 3, {size}, {size}): slopes {layer.alpha.ravel()}, "
          f"largest error {error:.2g}")
    assert error < 1e-4, "the slopes did not converge"
    return layer


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--size", type=int, default=16, help="height and width of each batch")
    args = parser.parse_args()
    train(args.batches, args.size)
