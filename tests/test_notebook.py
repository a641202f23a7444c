"""The Python API in a notebook: its progress where rich can draw no widget."""

from __future__ import annotations

import io
import sys
import warnings

import pytest
from rich.console import Console

from genbench.progress import Progress


@pytest.mark.parametrize("widgets", [False, True])
def test_progress_in_a_notebook_without_ipywidgets_warns_nothing_and_draws_no_widget(monkeypatch, widgets):
    """rich draws its bars in a notebook in an ipywidgets ``Output``, which genbench does not depend
    on: without it each bar and spinner of a run warned 'install "ipywidgets" for Jupyter support'
    in the cell, with an empty output for each. It prints the log file's lines instead; with
    ipywidgets (and IPython) the widget is kept."""
    import genbench.progress

    if not widgets:
        monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    else:
        monkeypatch.setattr(genbench.progress, "_notebook_widgets", lambda: True)
    progress = Progress(console=Console(file=io.StringIO(), force_jupyter=True))
    if widgets:  # drawing one needs IPython's display, which a test has no kernel for
        assert not progress._as_lines()
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        update = progress.training("train vae seed 0")
        update(1, 10, {"loss": 1.0})
        progress.training_done()
        bar = progress.sampling("sample vae seed 0", 10)
        bar.batch_started(10, timed=True)
        bar(10)
        progress.sampling_done()
        with progress.extracting("features of vae (raw)", "samples") as extraction:
            assert extraction is not None
        with progress.status("reference features: ring8 train (raw)"):
            pass
    assert not [str(w.message) for w in caught]
    assert progress._as_lines()
