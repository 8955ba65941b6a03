import ctypes

import pytest

from ssl_core import host


def test_retain_freed_memory_is_accepted_by_glibc_and_a_no_op_elsewhere(monkeypatch):
    try:
        ctypes.CDLL("libc.so.6")
    except OSError:
        pytest.skip("not a glibc system")
    assert host.retain_freed_memory() is True

    def missing(name):
        raise OSError(name)

    monkeypatch.setattr(host.ctypes, "CDLL", missing)
    assert host.retain_freed_memory() is False
