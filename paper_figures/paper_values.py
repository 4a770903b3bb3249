"""Numbers printed in the paper (arXiv:2510.04500), shown beside ours in the tables.

Quoted, not computed: they are what our reproduction is compared against.
"""

from __future__ import annotations

#: Table A3: relative improvement of FPE over dense, by paper layer count and hidden width
TABLE_A3_RI = {
    5: {4: 0.28, 8: 0.026, 12: 0.004, 16: 0.002},
    7: {4: 0.34, 8: 0.11, 12: 0.011, 16: 0.008},
    9: {4: 1.04, 8: 0.087, 12: 0.020, 16: 0.014},
}
#: Table A4 (5-layer MLP on ImageNet-1k CLIP embeddings): hidden -> (dense acc, FPE acc, FPE RI)
TABLE_A4 = {
    6: (0.130, 0.139, 0.062),
    8: (0.238, 0.251, 0.056),
    10: (0.306, 0.319, 0.043),
    12: (0.381, 0.388, 0.020),
    14: (0.429, 0.436, 0.017),
    16: (0.469, 0.470, 0.001),
}
#: Table A5 (one configuration, width not stated): accuracies and relative improvements
TABLE_A5 = {"dense": 0.5389, "two_four": 0.6167, "random": 0.6192, "two_four_ri": 0.1442, "random_ri": 0.1489}
#: A.7 dynamic rewiring on CIFAR-100: hidden -> (gain over one-shot random FPE in accuracy
#: points as a fraction, relative improvement of the rewired model over dense)
REWIRING = {4: (0.045, 0.53), 8: (0.019, 0.14), 16: (0.005, 0.030)}
