"""Claims of Sections 3.3-3.4 and A.7 on vision classifiers.

Each claim is registered once per data set: ``@digits`` (scikit-learn's 8x8 digits as raw
pixels, offline: the stand-in, so its verdict is about the stand-in, not about CIFAR-100),
``@clip`` (CLIP embeddings of CIFAR-100 given with ``--embeddings``; not run without them)
and, for Table A4, ``@imagenet1k`` (``--imagenet1k``). Rows with the paper's absolute
numbers exist only for the real data, and compare only at the paper profile's schedule.

Units: a seed (paired design: all strategies of one seed share the pre-trained model).
"Pooled over widths" means each seed's mean over the grid's widths, then a t interval over
seeds.

One module per part; importing them in this order registers the claims in ledger order.
"""

from . import width_sweep  # noqa: F401  3.3 Figure 5
from . import ablations  # noqa: F401  3.4 Figure 6
from . import tables  # noqa: F401  A.7 Tables A3, A4, A5
from . import rewiring  # noqa: F401  A.7 dynamic rewiring
from .common import COMPARABLE_MARGIN, DATA_OF, FIG5_DATASETS, vision_claim  # noqa: F401  (their old place)
