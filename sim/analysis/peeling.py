"""PRIM's peeling phase, column by column: the `prim` package's algorithm (PRIM==1.0.0, pinned),
its results unchanged, at a cost that grows with the number of parameters instead of its
square.

The package's `Prim._peel` tries, at each step, a peel off each end of every parameter. For each
parameter it copies the rows of the box with *every* column (`x[box.yi][name]`), then a deep copy
of the box's limits per candidate, and counts the restricted parameters of each candidate by
comparing all of them with the initial box: three costs proportional to the number of
parameters, for each of them. With the baseline's 261 parameters, `discover` on 1,500 runs spent
33 of its 40 s there (py-spy), and the README's example of 5,000 runs took 82 s.

`Prim` below overrides only that method. It reads one column of the box's rows, makes the one
copy of the limits that the chosen peel needs, and counts a candidate's restricted parameters
from the box's own count and the one parameter the candidate changes. Everything else is the
package's: its quantile (`prim_ops.get_quantile`), its objective function, its order of
candidates (every parameter in the data's order, its upper end then its lower), its sort of
the scores (Python's stable sort on (objective, unrestricted parameters), best first), its
stopping rule, its `PrimBox.update`, and its pasting phase. A column the package peels as a
real number (float16, float32, float64) is peeled here; any other by the package's own
operation. `tests/test_peeling.py` checks that both give the same peeling trajectory, limits
and rows, box by box, on generated data and on the baseline's runs. One difference is kept on
purpose: the package's `_peel` calls itself once per box and so stops with a RecursionError
past about a thousand boxes (a tiny `peel_alpha`); this one is a loop.

The method is derived from the package's own (GPL-3.0-or-later; by David Hadka, from Jan
Kwakkel's EMA Workbench).
"""

from __future__ import annotations

import copy
import operator

import numpy as np


def _make_prim_class():
    import prim
    from prim import prim_ops
    from prim.scenario_discovery_util import determine_nr_restricted_dims

    class Prim(prim.Prim):
        """`prim.Prim` with its peeling phase computed column by column (module docstring)."""

        def _peel(self, box):  # the package's `_peel`, as a loop instead of its recursion
            names = list(self.x.dtype.names)
            init = self._box_init
            while True:
                lims, yi = box._box_lims[-1], box.yi
                same = {n: bool((lims[n][0] == init[n][0]) & (lims[n][1] == init[n][1]))
                        for n in names}
                restricted = sum(not s for s in same.values())
                candidates = []  # (indices, box limits or (name, end, value))
                for n in names:
                    dtype = self.x.dtype.fields[n][0].name
                    operation = prim.Prim.PEEL_OPERATIONS.get(dtype)
                    if operation is not prim_ops.real_peel:  # the package's own, or its error
                        if operation is None:
                            raise prim.PrimError(f"no peel operation defined for type {dtype}")
                        candidates += [(i, lim) for i, lim in operation(self, box, n)]
                        continue
                    x = self.x[n][yi]  # one column of the box's rows
                    if np.any(np.isnan(x)):
                        continue  # as `real_peel`: no peel of a column with a missing value
                    for end, alpha in ((1, 1 - self.peel_alpha), (0, self.peel_alpha)):
                        value = prim_ops.get_quantile(x, alpha)
                        inside = x <= value if end == 1 else x >= value
                        candidates.append((yi[inside], (n, end, value)))
                if not candidates:
                    return box
                scores = []
                y_box = self.y[yi]
                for k, (i, lim) in enumerate(candidates):
                    obj = self.obj_func(y_box, self.y[i])
                    if isinstance(lim, tuple):
                        n, end, value = lim
                        pair = [lims[n][0], lims[n][1]]
                        pair[end] = value
                        now = bool((pair[0] == init[n][0]) & (pair[1] == init[n][1]))
                        nr = restricted - (not same[n]) + (not now)
                    else:
                        nr = determine_nr_restricted_dims(lim, init)
                    scores.append((obj, len(names) - nr, k))
                scores.sort(key=operator.itemgetter(0, 1), reverse=True)
                obj_score, _, k = scores[0]
                indices, lim = candidates[k]
                mass_old = yi.shape[0] / self.n
                mass_new = self.y[indices].shape[0] / self.n
                if not (mass_new >= self.mass_min and mass_new < mass_old and obj_score > 0):
                    return box
                if isinstance(lim, tuple):
                    n, end, value = lim
                    lim = copy.deepcopy(lims)
                    lim[n][end] = value
                box.update(lim, indices)

    return Prim


_PRIM = None


def Prim(*args, **kwargs):
    """A `prim.Prim` whose peeling phase is computed column by column (module docstring)."""
    global _PRIM
    if _PRIM is None:
        _PRIM = _make_prim_class()
    return _PRIM(*args, **kwargs)
