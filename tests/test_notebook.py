"""The Python API in a notebook: its progress where rich can draw no widget, and its warnings
silenced as Python's are."""

from __future__ import annotations

import io
import sys
import warnings

import numpy as np
import pytest
from rich.console import Console

import genbench
from genbench import GenbenchWarning
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


@pytest.mark.parametrize(
    "ignore",
    [
        {"category": GenbenchWarning},
        {"message": "evaluate does not read"},
        {},  # warnings.simplefilter("ignore"): every warning
    ],
)
def test_a_warning_filter_silences_genbench_warnings_in_python(tmp_path, cache_dir, capsys, ignore):
    """genbench's console says its warnings on lines of its own, which a notebook's cell shows
    whatever ``sys.stderr`` is (rich writes there through IPython's display): neither
    ``warnings.simplefilter("ignore")`` nor ``redirect_stderr`` silenced "evaluate does not read
    RunConfig.samples". Python's filters decide now, for the category GenbenchWarning."""
    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=5, metrics=["fid"], out=tmp_path,
        cache_dir=cache_dir, progress=False, figures=False,
    )  # fmt: skip
    x = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    genbench.evaluate(x, config, name="said")
    assert "warning: evaluate does not read RunConfig.models, RunConfig.samples" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", **ignore)
        result = genbench.evaluate(x, config, name="silenced")
    err = capsys.readouterr().err
    assert result.status == "ok" and "ok silenced seed 0" in err
    assert "warning:" not in err, err
    with warnings.catch_warnings():  # another category's filter leaves them said
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        genbench.evaluate(x, config, name="said-again")
    assert "warning: evaluate does not read" in capsys.readouterr().err
