"""Results record what set their thread counts: torch's count was recorded (``cpu_threads``), but not
the variables that chose it nor the threads of numpy's and scipy's BLAS, which FID's eigenvalues
and ``sqrtm`` run on (a 2048-feature FID moves in its 11th digit between 1 and 2 BLAS threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("threadpoolctl")

SCRIPT = (
    "import json; from genbench.environment import environment; e = environment('cpu'); "
    "print(json.dumps({k: e.get(k) for k in ('blas', 'thread_settings', 'cpu_threads')}))"
)


def _recorded(**variables: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env={**env, **variables}, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_result_records_the_thread_variables_and_its_blas_threads():
    one, two = _recorded(OMP_NUM_THREADS="1"), _recorded(OMP_NUM_THREADS="2", MKL_NUM_THREADS="3")
    assert one["thread_settings"] == {"OMP_NUM_THREADS": "1"}
    assert two["thread_settings"] == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "3"}
    # a thread count above the machine's cores is capped to them (torch's and OpenBLAS's): 1 on a
    # 1-core runner
    n = min(2, os.cpu_count() or 1)
    assert (one["cpu_threads"], two["cpu_threads"]) == (1, n)
    assert one["blas"] and all(lib.endswith("(1 thread)") for lib in one["blas"])
    said = f"({n} threads)" if n > 1 else "(1 thread)"
    assert two["blas"] and all(lib.endswith(said) for lib in two["blas"])
    assert [lib.split(" (")[0] for lib in one["blas"]] == [lib.split(" (")[0] for lib in two["blas"]]
