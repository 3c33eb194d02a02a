"""Figures of the runs, drawn from labelled data (pandas frames, plain arrays) onto matplotlib
``Figure`` objects, without pyplot: drawing neither needs nor changes the user's backend, and a
figure is returned to the caller (``fig.savefig(...)``, or shown by a notebook).

The lowest layer beside :mod:`~distributed_resource_optimization.checks`: the functions know no
result class, so the results (their ``plot`` accessors) and the commands (:mod:`..io.plots`)
both draw with them. matplotlib loads when the first figure is drawn. Styles (:mod:`.style`):
every line differs in colour *and* dash, legends name entities in words.
"""

# No re-exports: the modules are imported by what they are used for (importing this package
# loads neither pandas nor matplotlib, so the ADMM engine can offer figures at no import cost).
__all__ = ["convergence", "district", "style"]
