"""The result store: one checksummed JSON file per finished run, written atomically.

Layout of a store directory::

    DIR/<config_key>.json        one finished run (the only files ever read as results)
    DIR/.tmp-*                   a write in progress (or killed mid-write): never read
    DIR/.corrupt/<key>.<time>.json   files that failed verification, moved aside
    DIR/.failures/<key>.json     the last error of a run that failed (cleared on success)
    DIR/models/<key>/            saved networks of a run, when kept (``results.models``)

A result file is plain JSON, ``{"checksum": "sha256:<hex>", "payload": {...}}`` where the
checksum is ``sha256`` of the payload's canonical JSON (sorted keys, no spaces). The payload
holds the experiment kind and code version, every config field, the metrics table (the
run's DataFrame, column by column) and provenance (seed, package versions, git commit,
host, times, duration). Writes go to a temporary file that is fsynced and then
``os.replace``d onto its final name, so a kill at any moment leaves either the complete
file or none. A file that does not parse, fails its checksum or names another key is
*corrupt*: never read, reported, and (by the sweep, or ``split_stored`` for a command that
resumes) moved aside and recomputed.

Nothing here unpickles: results are JSON only.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
import socket
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fpe_common.atomic import atomic_write, fsync_dir
from fpe_common.paths import models_dir

from .codec import canonical_bytes, cell, checksum, decode_frame, encode_frame, jsonable, unjson
from .keys import config_key, config_to_dict
from .provenance import provenance, utc_now

_provenance = provenance

__all__ = [
    "ResultStore",
    "StoredResult",
    "load_results",
    "provenance",
    "CorruptResultError",
    "CorruptResultWarning",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "fpe-result"
FORMAT_VERSION = 1
_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
# dtypes a metrics column may be restored to (anything else stays object)
_SAFE_DTYPES = re.compile(r"^(u?int(8|16|32|64)|float(16|32|64)|bool|object|string|str)$")


class CorruptResultError(ValueError):
    """A stored result file is truncated, unparsable, fails its checksum or names another key."""


class CorruptResultWarning(UserWarning):
    """Raised as a warning when reading a store skips corrupt files (they are never read)."""


@dataclasses.dataclass(frozen=True)
class StoredResult:
    """One verified result: its key, kind, code version, config fields, metrics, provenance."""

    key: str
    kind: str
    code_version: int
    config: dict[str, Any]
    frame: pd.DataFrame
    provenance: dict[str, Any]


# ---------------------------------------------------------------- the store


class ResultStore:
    """A directory of finished runs, one ``<config_key>.json`` per run (see module doc).

    ``put`` writes atomically; ``get`` verifies the checksum and raises
    ``CorruptResultError`` rather than return a damaged result; ``missing`` lists the
    configs to (re)compute, counting corrupt files as missing.
    """

    def __init__(self, root: str | os.PathLike, *, create: bool = True) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path, got {type(root).__name__}")
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"store must be a directory, got the file {self.root}")
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            raise ValueError(f"store directory {self.root} does not exist")

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # -- naming
    @staticmethod
    def key(config_or_key: Any) -> str:
        """The result key of a config (``config_key``), or a key string checked for form."""
        if isinstance(config_or_key, str):
            if not _KEY_RE.match(config_or_key):
                raise ValueError(f"key must be 16 lowercase hex digits, got {config_or_key!r}")
            return config_or_key
        return config_key(config_or_key)

    def path(self, config_or_key: Any) -> Path:
        """``DIR/<key>.json``."""
        return self.root / f"{self.key(config_or_key)}.json"

    def keys(self) -> list[str]:
        """Keys of every result file present (not verified; see ``scan``)."""
        return sorted(p.stem for p in self.root.glob("*.json") if _KEY_RE.match(p.stem))

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, config_or_key: Any) -> bool:
        return self.status(config_or_key) == "ok"

    # -- writing
    def put(
        self,
        config: Any,
        frame: pd.DataFrame,
        *,
        provenance: dict[str, Any] | None = None,
    ) -> Path:
        """Store ``frame`` as the result of ``config``, atomically (temp + fsync + replace).

        ``provenance`` defaults to ``store.provenance(seed=config.seed)``.
        """
        kind = getattr(type(config), "kind", None)
        if kind is None or not dataclasses.is_dataclass(config):
            raise TypeError(f"config must be a registered experiment config, got {type(config).__name__}")
        key = config_key(config)
        if provenance is None:
            provenance = _provenance(seed=getattr(config, "seed", None))
        fields = config_to_dict(config)
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "key": key,
            "kind": kind,
            "code_version": type(config).code_version,
            "config": fields,
            "field_order": list(fields),
            "metrics": encode_frame(frame),
            "provenance": jsonable(dict(provenance), "provenance"),
        }
        blob = canonical_bytes(payload)
        text = b'{"checksum":"' + checksum(blob).encode() + b'","payload":' + blob + b"}\n"
        final = self.root / f"{key}.json"
        # the writer's host and pid in the temporary name: clean_temp removes dead writers' files
        tmp = self.root / f".tmp-{key}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        atomic_write(final, text, tmp=tmp)
        self.clear_failure(key)
        return final

    # -- reading
    def _read(self, path: Path, key: str) -> StoredResult:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None
        try:
            doc = json.loads(raw)
            payload = doc["payload"]
            ok = isinstance(doc, dict) and set(doc) == {"checksum", "payload"}
            ok = ok and doc["checksum"] == checksum(canonical_bytes(payload))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: a maliciously deep document
            raise CorruptResultError(f"{path}: not a complete result file ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not ok:
            raise CorruptResultError(f"{path}: checksum mismatch (file damaged or edited)")
        if not isinstance(payload, dict):
            raise CorruptResultError(f"{path}: the payload is not a JSON object")
        if payload.get("format") != FORMAT or payload.get("key") != key:
            raise CorruptResultError(f"{path}: holds key {payload.get('key')!r}, not {key!r}")
        if payload.get("format_version") != FORMAT_VERSION:
            raise CorruptResultError(f"{path}: unknown format version {payload.get('format_version')!r}")
        try:
            frame = decode_frame(payload["metrics"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise CorruptResultError(f"{path}: unreadable metrics ({type(exc).__name__}: {str(exc)[:200]})") from None
        # a payload sealed with a valid checksum by a foreign or buggy writer can still have
        # the wrong shape: refuse it as corrupt rather than fail inside the reader
        try:
            config = unjson(payload["config"])
            order = payload.get("field_order", [])
            if not isinstance(config, dict) or not isinstance(order, list):
                raise TypeError("config must be an object and field_order a list")
            config = {**{k: config[k] for k in order if isinstance(k, str) and k in config}, **config}  # declaration order
            kind, code_version = payload["kind"], payload["code_version"]
            if not isinstance(kind, str) or isinstance(code_version, bool) or not isinstance(code_version, int):
                raise TypeError("kind must be a string and code_version an integer")
            prov = unjson(payload["provenance"])
            if not isinstance(prov, dict):
                raise TypeError("provenance must be an object")
        except (KeyError, TypeError) as exc:
            raise CorruptResultError(f"{path}: malformed payload ({exc})") from None
        return StoredResult(
            key=key,
            kind=kind,
            code_version=code_version,
            config=config,
            frame=frame,
            provenance=prov,
        )

    def get(self, config_or_key: Any) -> StoredResult:
        """The verified stored result; ``KeyError`` if absent, ``CorruptResultError`` if damaged."""
        key = self.key(config_or_key)
        return self._read(self.root / f"{key}.json", key)

    def status(self, config_or_key: Any) -> str:
        """``"ok"``, ``"missing"`` or ``"corrupt"`` (the file is read and verified)."""
        try:
            self.get(config_or_key)
        except KeyError:
            return "missing"
        except CorruptResultError:
            return "corrupt"
        return "ok"

    def scan(self) -> tuple[list[str], list[Path]]:
        """(keys of verified results, paths of corrupt result files)."""
        ok, bad = [], []
        for key in self.keys():
            try:
                self.get(key)
                ok.append(key)
            except CorruptResultError:
                bad.append(self.root / f"{key}.json")
            except KeyError:  # removed meanwhile
                pass
        return ok, bad

    def missing(self, configs: Iterable[Any]) -> list[Any]:
        """The configs whose result is absent or corrupt, in input order, without duplicates."""
        out, seen = [], set()
        for cfg in configs:
            key = config_key(cfg)
            if key in seen:
                continue
            seen.add(key)
            if self.status(key) != "ok":
                out.append(cfg)
        return out

    def split_stored(self, configs: Iterable[Any], *, note: Callable[[str], None] | None = None
                     ) -> tuple[dict[str, pd.DataFrame], list[Any]]:
        """``(frames, todo)``: the stored frame of every config whose result is here and
        intact (by key), and the configs to compute (absent, or corrupt: the file is moved to
        ``DIR/.corrupt/`` and ``note`` told why), in input order without duplicates. How a
        command resumes: what is stored is read, never recomputed."""
        frames: dict[str, pd.DataFrame] = {}
        todo, seen = [], set()
        for cfg in configs:
            key = config_key(cfg)
            if key in seen:
                continue
            seen.add(key)
            try:
                frames[key] = self.get(key).frame
            except KeyError:
                todo.append(cfg)
            except CorruptResultError as exc:
                moved = self.quarantine(key)
                if note is not None:
                    note(f"{exc}; moved to {moved}, recomputing it")
                todo.append(cfg)
        return frames, todo

    @property
    def models_dir(self) -> Path:
        """``DIR/models``: saved networks beside the results, one folder per config key."""
        return models_dir(self.root)

    # -- housekeeping
    def quarantine(self, config_or_key: Any) -> Path | None:
        """Move a (corrupt) result file to ``DIR/.corrupt/`` and return its new path."""
        key = self.key(config_or_key)
        src = self.root / f"{key}.json"
        if not src.exists():
            return None
        dest_dir = self.root / ".corrupt"
        dest_dir.mkdir(exist_ok=True)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        dest = dest_dir / f"{key}.{stamp}.json"
        os.replace(src, dest)
        fsync_dir(self.root)
        return dest

    def temp_files(self) -> list[Path]:
        """Leftover temporary files (a write that was killed, or one in progress)."""
        return sorted(self.root.glob(".tmp-*"))

    def clean_temp(self, *, older_than_s: float = 0.0) -> int:
        """Remove temporary files of dead writers on this host (or older than ``older_than_s``).

        A temp file is never read as a result, so removing one loses nothing; one whose
        writer is alive on this host is kept.
        """
        import time

        host = socket.gethostname()
        removed = 0
        for path in self.temp_files():
            parts = path.name.split("-")
            alive = False
            try:
                pid = int(parts[-2])
                if "-".join(parts[2:-2]) == host:
                    alive = _pid_alive(pid)
                else:  # another host's writer: only age tells
                    alive = time.time() - path.stat().st_mtime < max(older_than_s, 3600.0)
            except (ValueError, IndexError, OSError):
                alive = False
            if not alive:
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def record_failure(self, config: Any, error: str, *, attempts: int) -> Path:
        """Keep the last error of a failed run in ``DIR/.failures/<key>.json`` (atomically)."""
        key = config_key(config)
        fail_dir = self.root / ".failures"
        fail_dir.mkdir(exist_ok=True)
        doc = {
            "key": key,
            "kind": type(config).kind,
            "config": config_to_dict(config),
            "attempts": attempts,
            "error": error,
            "time_utc": utc_now(),
            "host": socket.gethostname(),
        }
        dest = fail_dir / f"{key}.json"
        atomic_write(dest, json.dumps(doc, indent=1, sort_keys=True), tmp=fail_dir / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        return dest

    def failures(self) -> list[dict[str, Any]]:
        """The recorded failures (runs that failed and have not succeeded since)."""
        out = []
        for path in sorted((self.root / ".failures").glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def clear_failure(self, key: str) -> None:
        path = self.root / ".failures" / f"{key}.json"
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    # -- tables
    def results(self, *, on_corrupt: str = "warn") -> list[StoredResult]:
        """Every verified result; corrupt files are skipped with a warning (or raise/ignore)."""
        if on_corrupt not in ("warn", "raise", "ignore"):
            raise ValueError(f"on_corrupt must be 'warn', 'raise' or 'ignore', got {on_corrupt!r}")
        out, bad = [], []
        for key in self.keys():
            try:
                out.append(self.get(key))
            except CorruptResultError as exc:
                bad.append(str(exc))
            except KeyError:
                pass
        if bad and on_corrupt == "raise":
            raise CorruptResultError(f"{len(bad)} corrupt result file(s): " + "; ".join(bad))
        if bad and on_corrupt == "warn":
            warnings.warn(
                f"skipped {len(bad)} corrupt result file(s) in {self.root} (rerun the sweep to "
                f"recompute them): " + "; ".join(bad),
                CorruptResultWarning,
                stacklevel=3,
            )
        return out

    def load(self, *, kind: str | None = None, on_corrupt: str = "warn", with_provenance: bool = False) -> pd.DataFrame:
        """All results as one table; see ``load_results``."""
        return _table(self.results(on_corrupt=on_corrupt), kind=kind, with_provenance=with_provenance)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _table(results: Sequence[StoredResult], *, kind: str | None, with_provenance: bool) -> pd.DataFrame:
    frames = []
    for res in results:
        if kind is not None and res.kind != kind:
            continue
        frame = res.frame.copy()
        n = len(frame)
        front: dict[str, Any] = {}
        for name, value in res.config.items():
            value = cell(value)
            if name in frame.columns:
                same = all(cell(v) == value for v in frame[name].tolist())
                if same:
                    continue
                name = f"config_{name}"
            front[name] = [value] * n
        tail: dict[str, Any] = {"key": [res.key] * n, "kind": [res.kind] * n, "code_version": [res.code_version] * n}
        if with_provenance:
            for name, value in res.provenance.items():
                if name == "packages" and isinstance(value, dict):
                    for pkg, ver in value.items():
                        tail[f"prov_{pkg}"] = [ver] * n
                else:
                    tail[f"prov_{name}"] = [cell(value)] * n
        pieces = [pd.DataFrame(front, index=frame.index), frame, pd.DataFrame(tail, index=frame.index)]
        frames.append(pd.concat(pieces, axis=1))
    if not frames:
        return pd.DataFrame(columns=["key", "kind", "code_version"])
    # configs of different kinds have different fields: union of columns, NaN where absent
    return pd.concat(frames, ignore_index=True, sort=False)


def load_results(
    root: str | os.PathLike,
    *,
    kind: str | None = None,
    on_corrupt: str = "warn",
    with_provenance: bool = False,
) -> pd.DataFrame:
    """One row per stored run and strategy: config fields, the run's metrics, its key.

    Columns: every config field (a field the metrics also hold is kept once when equal,
    else renamed ``config_<name>``), the metrics columns (``strategy, seed,
    test_accuracy, ...``), then ``key, kind, code_version`` (and ``prov_*`` provenance
    columns with ``with_provenance=True``). ``kind`` keeps one experiment kind. Corrupt
    files are never read: ``on_corrupt="warn"`` (default) skips them with a
    ``CorruptResultWarning``, ``"raise"`` raises ``CorruptResultError``, ``"ignore"`` skips.
    """
    if kind is not None and not isinstance(kind, str):
        raise TypeError(f"kind must be an experiment kind name (str) or None, got {type(kind).__name__}")
    return ResultStore(root, create=False).load(kind=kind, on_corrupt=on_corrupt, with_provenance=with_provenance)
