"""Claims of Sections 3.1-3.2 on the Boolean DNF task, and theory vs the trained networks.

Units of replication: a seed (one data set, one initialisation, one dense pre-training, the
strategies compared on it: a paired design). Orderings use paired differences over seeds
with Student t intervals (95%); trends use one least-squares slope per seed and a t interval
over seeds; "most configurations" counts configurations by their mean over seeds;
correlations use Fisher z (Pearson) or a bootstrap over configurations (Spearman).

One module per part; importing them in this order registers the claims in ledger order.
"""

from . import case_study  # noqa: F401  3.1 case study: absolute accuracies, ordering
from . import sweeps  # noqa: F401  3.2 Figure 3 sweeps
from . import interference  # noqa: F401  3.2 Figure 4 interference
from . import networks  # noqa: F401  A.5 closed forms vs the trained networks
from . import figures  # noqa: F401  statements read off Figures 2 and 3c (no number in the text)
