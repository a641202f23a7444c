"""What a board makes of inputs nobody planned for: names and errors that are markdown syntax,
metric values that are not finite numbers, seeds without samples in the CSV."""

from __future__ import annotations

import html
import json
import math

import pandas as pd
import pytest

from genbench.board_csv import to_csv_frame
from genbench.leaderboard import aggregate, load_results, results_frame
from genbench.reporting import write_report
from genbench.results import Result
from genbench.text import md_code, md_link_text, md_text

markdown_it = pytest.importorskip("markdown_it")


def run(model, seed, fid, *, status="ok", error=None, **metrics):
    return Result(
        model=model,
        dataset="ring8",
        seed=seed,
        status=status,
        error=error,
        flags=[] if status == "ok" else [status],
        protocol={
            "num_samples": 100,
            "reference_split": "train",
            "features": {"name": "raw", "fingerprint": "raw-v1"},
        },
        metrics={} if status != "ok" else {"fid": fid, **metrics},
    )


def tables(md: str) -> list[list[list[str]]]:
    """Each table of ``md`` as rendered (CommonMark with GitHub's tables): rows of cell texts."""
    rendered = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(md)
    out: list[list[list[str]]] = []
    cell = False
    for token in rendered:
        if token.type == "table_open":
            out.append([])
        elif token.type == "tr_open":
            out[-1].append([])
        elif token.type in ("th_open", "td_open"):
            cell = True
            out[-1][-1].append("")
        elif token.type == "inline" and cell:  # the text a reader sees: emphasis marks dropped
            out[-1][-1][-1] = "".join(
                c.content for c in token.children or [] if c.type in ("text", "code_inline")
            )
        elif token.type in ("th_close", "td_close"):
            cell = False
    return out


def test_names_and_errors_that_are_markdown_syntax_read_as_themselves(tmp_path):
    """``genbench eval --name 'a|b'`` gave every table of its board a column too many (its name
    split at the "|"), "*" and "_" turned names and errors into emphasis (a plugin's ``__init__()``
    error read as a bold "init"), and a "$" in a name failed the whole report in matplotlib's
    mathtext while drawing FID against samples/s."""
    name = "my|model*x_ $^$ `q` <b>"
    out = tmp_path / "runs"
    for seed in (0, 1):
        run(name, seed, 1.0 + seed, samples_per_s=10.0).write(out)
        run("plain", seed, 3.0 + seed, samples_per_s=20.0).write(out)
    error = "__init__() got an unexpected keyword argument 'x_'; see *docs*"
    run(name, 2, None, status="failed", error=error).write(out)

    md = write_report(out, tmp_path / "boards")["ring8"]
    found = tables(md)
    assert found, md
    for table in found:
        header, *rows = table
        assert all(len(row) == len(header) for row in rows), md  # no cell split at the "|"
        names = {row[header.index("model")] for row in rows}
        if "next" in header:  # the FID gaps: a row per pair of ranks, the lower one in "next"
            names |= {row[header.index("next")].split(": ", 1)[1] for row in rows}
        assert names == {name, "plain"}, md
    listed = [ln for ln in md.splitlines() if ln.startswith("- ") and "seed 2" in ln]
    item = markdown_it.MarkdownIt("commonmark").render(listed[0])
    assert "<em>" not in item and "<strong>" not in item, item  # read as written, "__init__" included
    assert html.unescape(item).count(error) == 1, item
    # the legend names the row that lost a seed in a code span, whose fence outlasts its backticks
    assert md_code(name) in md
    assert (tmp_path / "boards" / "ring8" / "fid_against_samples_s.png").is_file()


def test_a_multi_line_error_or_name_is_one_line_on_the_board_and_whole_in_the_json(tmp_path):
    """A plugin's exception with line breaks (a message over several lines, a traceback it formatted)
    was written as it was: its blank line ended the board's list of runs without samples, and the
    lines after it rendered as a heading and a table of their own; a name with a line break split
    its table row, and a metric's error its note."""
    out = tmp_path / "runs"
    name = "two\nlines"
    error = "model 'x' raised ValueError: bad shape\n\n# expected\n| (2,) | got (3,) |\n  at line 3"
    for seed in (0, 1):
        run(name, seed, 1.0 + seed).write(out)
        broken = run("plain", seed, 3.0 + seed)
        if seed == 1:  # a metric that failed for one seed: a note under the tables gives its error
            del broken.metrics["fid"]
            broken.metric_errors["fid"] = "sqrtm failed\nsee the log"
        broken.write(out)
    path = run("plain", 2, None, status="failed", error=error).write(out)

    md = write_report(out, tmp_path / "boards")["ring8"]
    for table in tables(md):
        header, *rows = table
        assert all(len(row) == len(header) for row in rows), md
        assert {row[header.index("model")] for row in rows} == {"two lines", "plain"}, md
    rendered = markdown_it.MarkdownIt("commonmark").enable(["table"]).render(md)
    listed = rendered.split("Runs without samples")[1]
    shown = "model 'x' raised ValueError: bad shape # expected | (2,) | got (3,) | at line 3"
    assert f"<li>plain seed 2: failed: {shown}</li>" in html.unescape(listed), listed
    assert "<h1>expected" not in rendered and rendered.count("<table>") == len(tables(md))
    assert "seed 1: fid: sqrtm failed see the log\n" in md  # the note's error too
    assert json.loads(path.read_text())["error"] == error  # the result keeps the full text


@pytest.mark.parametrize(
    "text",
    ["ddim[steps=10]", "ddpm[train_steps=16000]", "copy (N=200)", "gan-ns: samples"],
)
def test_the_names_genbench_gives_are_written_as_before(text):
    """Escaping is for what markdown would misread: the published boards' names stay as they were."""
    assert md_text(text) == md_link_text(text) == text
    assert md_code(text) == f"`{text}`"


def test_link_text_and_code_spans_hold_any_name():
    render = markdown_it.MarkdownIt("commonmark").render
    for name in ("a]b", "a](x) [y", "[", "x`y", "`x``"):
        link = render(f"[{md_link_text(name)}](target.png)")
        assert 'href="target.png"' in link and html.unescape(link).count(name) == 1, (name, link)
        code = render(md_code(name))
        assert f"<code>{html.escape(name, quote=False)}</code>" in code, (name, code)


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))  # Python's json writes NaN and Infinity, as genbench once did


def test_metric_values_that_are_not_finite_are_errors_never_averaged(tmp_path):
    """Result files of a genbench before results became strict JSON (or edited ones) can hold NaN
    and Infinity, which the runner now refuses as the metric's error. An Infinity made its cell's
    mean inf with no spread and no note, and beside an FID of 0 it failed the report with an
    OverflowError while drawing FID against samples/s; a NaN was said to be "no value recorded"."""
    from dataclasses import asdict

    out = tmp_path / "runs"
    values = {("copy", 0): 0.0, ("copy", 1): 0.0, ("gan", 0): math.inf, ("gan", 1): 4.0}
    values |= {("vae", 0): math.nan, ("vae", 1): 7.0}
    for (model, seed), fid in values.items():
        r = run(model, seed, fid, samples_per_s=100.0, kid_std=math.inf)
        write_json(r.path(out), asdict(r))
    agg = aggregate(results_frame(load_results(out))).set_index("label")
    assert agg.loc["gan", "fid"] == 4.0 and agg.loc["vae", "fid"] == 7.0
    assert agg.loc["copy", "notes"] == ""  # a per-run spread of inf is no cell of its own
    assert agg.loc["gan", "notes"] == (
        "fid from 1 of 2 seeds (seed 1); seed 0: fid: recorded inf, not a finite number"
    )
    assert "seed 0: fid: recorded nan, not a finite number" in agg.loc["vae", "notes"]
    md = write_report(out, tmp_path / "boards")["ring8"]
    assert "inf" not in md.split("## Notes")[0]
    assert [row[3] for row in tables(md)[0][1:]] == ["0 ± 0", "4 †", "7 †"], md


def test_the_csv_names_each_rows_seeds_without_samples():
    """The CSV said "diverged;ok" for a row that lost a seed, but not which seed, nor how many of
    the row's seeds ran: only the markdown's flags named them."""
    rs = [run("gan", 0, 3.0), run("gan", 1, None, status="diverged", error="loss is NaN at step 9")]
    rs += [run("gan", 2, 5.0), run("vae", 0, 8.0)]
    csv = to_csv_frame(aggregate(results_frame(rs))).set_index("label")
    assert csv.loc["gan", ["seeds", "n_ok", "status", "failed_seeds"]].tolist() == [
        "0,2",
        2,
        "diverged;ok",
        "1",
    ]
    assert csv.loc["vae", "failed_seeds"] == ""
    assert list(csv.columns).index("failed_seeds") < list(csv.columns).index("fid")
    assert pd.api.types.is_string_dtype(csv["failed_seeds"])


def test_a_gan_log_with_nulls_is_drawn(tmp_path):
    """A result file writes a NaN or inf of its training log as null (strict JSON), and the GAN
    dynamics figure read it with ``float(None)``: a GAN whose generator gradient overflowed for one
    logged step failed the report of its whole dataset."""
    out = tmp_path / "runs"
    r = run("mygan", 0, 2.0)
    r.training_log = [
        {"step": float(i), "d_real": 0.6, "d_fake": 0.4, "grad_norm_g": math.inf if i == 3 else 1 / i}
        for i in range(1, 6)
    ]
    r.write(out)
    assert load_results(out)[0].training_log[2]["grad_norm_g"] is None
    write_report(out, tmp_path / "boards")
    assert (tmp_path / "boards" / "ring8" / "gan_training_dynamics.png").is_file()
