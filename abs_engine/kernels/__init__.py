"""numba kernels over flat arrays. Imports only numpy, numba and its own modules."""
