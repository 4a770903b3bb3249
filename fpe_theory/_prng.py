"""The random streams of the Monte Carlo kernels (``fpe_theory._kernels``): xoshiro256**
(Blackman & Vigna), one stream per chunk of trials, seeded by splitmix64 from (seed, chunk
index). Part of the stream definition: ``_reference`` replays it bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_U = np.uint64
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SM1 = np.uint64(0xBF58476D1CE4E5B9)
_SM2 = np.uint64(0x94D049BB133111EB)
_CHUNK_MIX = np.uint64(0xD1B54A32D192ED03)


@njit(inline="always", cache=True)
def _splitmix64(x):
    x = x + _GOLDEN
    z = x
    z = (z ^ (z >> _U(30))) * _SM1
    z = (z ^ (z >> _U(27))) * _SM2
    return x, z ^ (z >> _U(31))


@njit(cache=True)
def seed_state(seed, chunk, st):
    """Fill ``st`` (uint64[4]: xoshiro256** state s0..s3) for (seed, chunk)."""
    x, a = _splitmix64(_U(seed))
    x = a ^ (_U(chunk) * _CHUNK_MIX)
    for i in range(4):
        x, st[i] = _splitmix64(x)


@njit(inline="always", cache=True)
def _rotl(x, k):
    return (x << k) | (x >> (_U(64) - k))


@njit(inline="always", cache=True)
def _next64(s0, s1, s2, s3):
    result = _rotl(s1 * _U(5), _U(7)) * _U(9)
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _U(45))
    return result, s0, s1, s2, s3
