"""Multi-energy district models: electric grid, thermal grid, buildings, scenarios.

Numerics only: kernels take arrays, loaders turn data files into arrays. Nothing here knows ADMM
or the runtime.
"""
