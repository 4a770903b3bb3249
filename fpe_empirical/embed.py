"""Old import path and command of the CLIP extraction (``python -m fpe_empirical.embed``):
``fpe_empirical.data.clip`` extracts, ``fpe_empirical.data.readers`` reads the raw data sets."""

import sys

from .data.clip import (  # noqa: F401
    CLIP_MEAN, CLIP_STD, DATASETS, DEFAULT_MODEL, PREPROCESS_VERSION, clip_preprocess, extract_embeddings,
    load_clip_vision, main,
)
from .data.readers import (  # noqa: F401
    DataMissingError, choose_classes, image_folder, read_cifar100, read_fashionmnist, read_idx,
)

if __name__ == "__main__":
    sys.exit(main())
