"""``release_code_pages`` lets go of the resident pages of code the process ran, which run
again from the page cache, and never of a mapping whose pages were written (its file no
longer holds what it runs); ``trim_heap`` gives the C heap's free pages back."""

from __future__ import annotations

import ctypes
import mmap
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamtune.processes import _code_mappings, release_code_pages, trim_heap

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/smaps: Linux")
PAGE = mmap.PAGESIZE


def _resident_code() -> int:
    return sum(resident for _, _, resident in _code_mappings())


def test_code_pages_go_and_the_code_still_runs() -> None:
    assert pc.sum(pa.array([1, 2, 3])).as_py() == 6  # Arrow's compute code is resident
    before = _resident_code()
    released = release_code_pages()
    assert released > 4 * 2**20  # this interpreter's code, Arrow's and more
    assert pc.sum(pa.array([4, 5, 6])).as_py() == 15  # runs again, from the page cache
    assert _resident_code() < before - released // 2


def _executable(path: Path, *, written: bool) -> tuple[mmap.mmap, int]:
    """A private mapping of ``path`` made read + execute, after a write or not."""
    path.write_bytes(b"A" * PAGE)
    with path.open("r+b") as file:
        mapped = mmap.mmap(file.fileno(), PAGE, flags=mmap.MAP_PRIVATE,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE)
    if written:
        mapped[:4] = b"BBBB"  # a page of the process's own now: the file holds "AAAA"
    else:
        assert mapped[:4] == b"AAAA"  # resident, as the file holds it
    address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(address, PAGE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
        pytest.skip(f"no executable mapping of {path.parent} (errno {ctypes.get_errno()})")
    return mapped, address


def test_a_written_mapping_keeps_its_pages(tmp_path: Path) -> None:
    written, written_at = _executable(tmp_path / "written", written=True)
    clean, clean_at = _executable(tmp_path / "clean", written=False)
    starts = {start for start, _, _ in _code_mappings()}
    assert clean_at in starts and written_at not in starts
    release_code_pages()
    assert written[:4] == b"BBBB"  # let go, it would read "AAAA" from its file
    assert clean[:4] == b"AAAA"


def _resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def test_a_trim_gives_the_heaps_free_pages_back() -> None:
    blocks = [b"x" * 65536 for _ in range(2048)]  # 128 MB from the C heap, each page written
    kept = blocks[::2]  # every other block freed: free pages between live ones, not at the top
    del blocks
    before = _resident()
    trim_heap()
    assert before - _resident() > 32 * 2**20  # of the 64 MB freed
    assert all(block[-1:] == b"x" for block in kept)
