"""Demo data: synthetic CX tables with known effects, and public example data sets.

:mod:`cxlib.demo.truth` holds the tables' vocabulary and schemas and the true effects;
:mod:`cxlib.demo.synthetic` simulates and writes the tables; :mod:`cxlib.demo.telco` converts IBM's
Telco churn sample. The package re-exports the public names of the first two, so
``demo.TRUE_TOUCHPOINT_HR`` and ``demo.generate`` work after ``from cxlib import demo``.

Examples
--------
>>> from cxlib import demo
>>> demo.TRUE_TOUCHPOINT_HR["poor_support"]
1.6
>>> demo.generate(200, seed=3)["customers"].shape
(200, 8)
"""

from cxlib.demo import synthetic, truth
from cxlib.demo.synthetic import *  # the names in synthetic.__all__
from cxlib.demo.truth import *  # the names in truth.__all__

__all__ = truth.__all__ + synthetic.__all__
