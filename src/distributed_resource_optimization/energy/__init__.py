"""Multi-energy district models: electric grid, thermal grid, buildings, scenarios.

One sub-package per organisation, each built from its own data files only: the electric grid
operator (:mod:`.electric_grid`), the thermal grid operator (:mod:`.thermal_grid`) and the
buildings with their aggregator (:mod:`.buildings`). Shared by all: :mod:`.tables` (table schemas,
reading and checks), :mod:`.ders` (where the buildings connect to the grids), :mod:`.timeseries`
(horizon, price, weather) and :mod:`.lp` (the LP block). :mod:`.scenarios` and :mod:`.district`
put the three together.

Numerics only: kernels take arrays, loaders turn data files into arrays. Nothing here knows ADMM
or the runtime.
"""
