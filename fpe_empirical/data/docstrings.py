"""A real text task offline: public docstrings of the pinned packages, labelled by module.

``build_corpus()`` walks the public modules of ``PACKAGES`` (torch, numpy, scipy, pandas,
matplotlib, scikit-learn: installed with the toolkit, so nothing downloads) and returns a
``Corpus``:

- **Walk.** Every public module (no ``_``-prefixed component, no ``tests``/``testing``)
  down to depth ``max_depth`` (``scipy.stats``: depth 2), in sorted order; a module that
  does not import is skipped (and listed in ``skipped``).
- **Items.** Every public name of a walked module bound to a function or class whose
  ``__module__`` lies inside the package, and every public method of such a class defined in
  the class itself; each object once (first seen). Text: ``inspect.cleandoc(__doc__)``, cut to
  ``max_chars`` characters, kept when at least ``min_chars`` long; object addresses
  (``at 0x...``) are removed and printed string sets sorted, as both differ between processes.
- **Label.** The first two public components of the object's ``__module__``
  (``scipy.stats._stats_py`` -> ``scipy.stats``, ``numpy`` -> ``numpy``): the sub-library a
  docstring documents. A text seen under two labels is dropped (it names no single module);
  a text seen twice under one label is kept once.
- **Classes.** Labels with at least ``min_per_class`` texts; each is cut to
  ``max_per_class`` texts by a seeded draw (the big classes would otherwise dominate).
- **Split.** Seeded stratified: ``round(test_fraction * n_c)`` texts of each class go to test.

Everything is sorted before any draw, so the corpus is a function of the package versions
(recorded in ``versions``) and the arguments.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import sys
import warnings
import contextlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fpe_common.atomic import atomic_write
from fpe_common.checks import check_fraction, check_int

__all__ = ["PACKAGES", "Corpus", "build_corpus", "save_corpus", "load_corpus", "package_versions", "stratified_split"]

#: the packages whose docstrings make the corpus (import names)
PACKAGES = ("torch", "numpy", "scipy", "pandas", "matplotlib", "sklearn")
_SKIP_PARTS = {"tests", "testing", "conftest", "setup", "benchmarks", "__main__"}


@dataclass
class Corpus:
    """Texts with module labels and a train/test split (``split[i]`` is ``"train"`` or ``"test"``)."""

    texts: list[str]
    labels: list[int]
    class_names: list[str]
    split: list[str]
    ids: list[str]
    versions: dict[str, str]
    settings: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def part(self, name: str) -> tuple[list[str], np.ndarray]:
        """``(texts, labels)`` of the ``"train"`` or ``"test"`` part."""
        idx = [i for i, s in enumerate(self.split) if s == name]
        return [self.texts[i] for i in idx], np.asarray([self.labels[i] for i in idx], dtype=np.int64)


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str]:
    """``{package: __version__}`` of the installed packages."""
    return {p: str(importlib.import_module(p).__version__) for p in packages}


def _public(name: str) -> bool:
    return not any(part.startswith("_") or part in _SKIP_PARTS for part in name.split("."))


@contextlib.contextmanager
def _quiet():
    # some modules print or warn on import (deprecations, optional backends)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _walk(package: str, max_depth: int, skipped: list[str]) -> list:
    """Public modules of ``package`` to depth ``max_depth``, sorted by name, imported."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    names = [package]
    out = {}
    while names:
        name = names.pop()
        try:
            with _quiet():
                mod = importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - optional backends fail in many ways; skip the module
            skipped.append(name)
            continue
        out[name] = mod
        if name.count(".") + 1 >= max_depth or not hasattr(mod, "__path__"):
            continue
        try:
            subs = sorted(m.name for m in pkgutil.iter_modules(mod.__path__, name + "."))
        except Exception:  # noqa: BLE001 - a namespace package without a usable path
            subs = []
        names.extend(s for s in reversed(subs) if _public(s) and s not in out)
    return [out[n] for n in sorted(out)]


def _label(module_name: str) -> str:
    parts = [p for p in module_name.split(".") if not p.startswith("_")]
    return ".".join(parts[:2])


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_STR_SET = re.compile(r"\{'[^'{}]*'(?:, '[^'{}]*')+\}")


def _stable(text: str) -> str:
    """Remove what differs between processes: object addresses, the order of printed string
    sets (string hashing is randomised per process)."""
    text = _ADDRESS.sub("", text)
    return _STR_SET.sub(lambda m: "{" + ", ".join(sorted(m.group(0)[1:-1].split(", "))) + "}", text)


def _doc(obj, min_chars: int, max_chars: int) -> str | None:
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return None
    text = _stable(inspect.cleandoc(doc).strip())[:max_chars]
    return text if len(text) >= min_chars else None


def _items(modules: list, package: str, min_chars: int, max_chars: int) -> list[tuple[str, str, str]]:
    """``(label, id, text)`` of every documented public function, class and method."""
    # id -> object: holding the objects keeps their ids from being reused by later temporaries
    seen: dict[int, object] = {}
    out = []
    for mod in modules:
        for name in sorted(n for n in dir(mod) if not n.startswith("_")):
            try:
                with _quiet():
                    obj = getattr(mod, name)
            except Exception:  # noqa: BLE001 - lazy attributes may fail to load
                continue
            if not (inspect.isclass(obj) or inspect.isroutine(obj)) or id(obj) in seen:
                continue
            owner = getattr(obj, "__module__", None)
            if not isinstance(owner, str) or not owner.startswith(package):
                continue
            seen[id(obj)] = obj
            label = _label(owner)
            text = _doc(obj, min_chars, max_chars)
            if text:
                out.append((label, f"{mod.__name__}.{name}", text))
            if inspect.isclass(obj):
                for meth in sorted(k for k in obj.__dict__ if not k.startswith("_")):
                    member = obj.__dict__[meth]
                    func = getattr(member, "__func__", member)
                    if not inspect.isroutine(func) or id(func) in seen:
                        continue
                    seen[id(func)] = func
                    text = _doc(func, min_chars, max_chars)
                    if text:
                        out.append((label, f"{mod.__name__}.{name}.{meth}", text))
    return out


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Bool ``is_test``: ``round(test_fraction * n_c)`` items of each class ``c``, drawn by
    ``default_rng(seed)`` in class order."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(test_fraction * idx.size))
        is_test[rng.permutation(idx)[:k]] = True
    return is_test


def build_corpus(packages: Sequence[str] = PACKAGES, *, min_chars: int = 80, max_chars: int = 2000,
                 min_per_class: int = 30, max_per_class: int | None = 200, test_fraction: float = 0.2,
                 seed: int = 0, max_depth: int = 3, progress: bool = False) -> Corpus:
    """The docstring corpus (module docstring for every rule). Deterministic given the
    installed package versions and the arguments."""
    check_int("min_chars", min_chars, 1)
    check_int("max_chars", max_chars, min_chars)
    check_int("min_per_class", min_per_class, 2)
    if max_per_class is not None:
        check_int("max_per_class", max_per_class, min_per_class)
    test_fraction = check_fraction("test_fraction", test_fraction)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    seed = check_int("seed", seed, 0)
    check_int("max_depth", max_depth, 1)
    if isinstance(packages, str) or not packages:
        raise ValueError(f"packages must be a non-empty sequence of package names, got {packages!r}")
    from tqdm.auto import tqdm

    skipped: list[str] = []
    items = []
    for package in tqdm(list(packages), desc="docstrings", disable=not progress, leave=False):
        modules = _walk(package, max_depth, skipped)
        with _quiet():  # deprecated attributes warn when inspected
            items += _items(modules, package, min_chars, max_chars)
    labels_of: dict[str, set[str]] = {}
    for label, _, text in items:
        labels_of.setdefault(text, set()).add(label)
    by_label: dict[str, list[tuple[str, str]]] = {}
    kept: set[tuple[str, str]] = set()
    for label, ident, text in sorted(items):
        if len(labels_of[text]) > 1 or (label, text) in kept:
            continue
        kept.add((label, text))
        by_label.setdefault(label, []).append((ident, text))
    rng = np.random.default_rng(seed)
    class_names = sorted(lb for lb, v in by_label.items() if len(v) >= min_per_class)
    texts, labels, ids = [], [], []
    for c, name in enumerate(class_names):
        rows = by_label[name]
        if max_per_class is not None and len(rows) > max_per_class:
            pick = np.sort(rng.choice(len(rows), max_per_class, replace=False))
            rows = [rows[i] for i in pick]
        for ident, text in rows:
            ids.append(ident)
            texts.append(text)
            labels.append(c)
    if len(class_names) < 2:
        raise ValueError(f"the corpus has {len(class_names)} classes with >= {min_per_class} texts; need 2")
    is_test = stratified_split(np.asarray(labels), test_fraction, seed)
    settings = dict(packages=list(packages), min_chars=min_chars, max_chars=max_chars, min_per_class=min_per_class,
                    max_per_class=max_per_class, test_fraction=test_fraction, seed=seed, max_depth=max_depth)
    return Corpus(texts, labels, class_names, ["test" if t else "train" for t in is_test], ids,
                  package_versions(packages), settings, sorted(skipped))


def save_corpus(corpus: Corpus, path: str | os.PathLike) -> Path:
    """Write ``corpus`` as JSON atomically (texts, labels, split, ids, versions, settings)."""
    return atomic_write(path, json.dumps(asdict(corpus), indent=0, sort_keys=True))


def load_corpus(path: str | os.PathLike) -> Corpus:
    """Read a corpus written by ``save_corpus`` (``ValueError`` if it is not one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        corpus = Corpus(**data)
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"path {str(path)!r} is not a docstring corpus: {exc}") from None
    n = len(corpus.texts)
    if not (len(corpus.labels) == len(corpus.split) == len(corpus.ids) == n):
        raise ValueError(f"path {str(path)!r}: texts, labels, split and ids differ in length")
    return corpus


if __name__ == "__main__":  # pragma: no cover - quick look: python -m fpe_empirical.data.docstrings
    c = build_corpus(progress=True)
    counts = np.bincount(c.labels)
    print(len(c.texts), "texts", len(c.class_names), "classes", file=sys.stderr)
    for name, k in zip(c.class_names, counts):
        print(f"{k:5d} {name}")
