"""fpe_common.atomic: final files get the umask-based mode whatever wrote them."""

from __future__ import annotations

import os
import stat
import tempfile

import numpy as np
import pytest

from fpe_common.atomic import atomic_path, atomic_write, current_umask


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_the_process_umask(umask_027):
    assert current_umask() == 0o027


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_final_files_get_0666_minus_umask(tmp_path, umask_027):
    atomic_write(tmp_path / "a.txt", "text")
    assert _mode(tmp_path / "a.txt") == 0o640
    # a writer that creates 0600 files (mkstemp does; so does safetensors)
    with atomic_path(tmp_path / "b.bin") as tmp:
        fd, name = tempfile.mkstemp(dir=tmp_path)
        os.close(fd)
        os.replace(name, tmp)
        assert _mode(tmp) == 0o600
    assert _mode(tmp_path / "b.bin") == 0o640
    from safetensors.numpy import save_file

    with atomic_path(tmp_path / "c.safetensors") as tmp:
        save_file({"x": np.zeros(3)}, str(tmp))
    assert _mode(tmp_path / "c.safetensors") == 0o640
    os.umask(0o022)
    atomic_write(tmp_path / "d.txt", b"x")
    assert _mode(tmp_path / "d.txt") == 0o644
