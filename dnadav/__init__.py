"""dnadav: design regulatory DNA with masked discrete diffusion aligned by DAV, and evaluate it.

Tokens are A, C, G, T = 0..3 and MASK = 4; one-hot tensors are ``[B, 4, L]`` in ACGT order.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
