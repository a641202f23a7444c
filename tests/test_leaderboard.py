"""Leaderboards: mean and std over seeds, FID ranking, flags kept visible, empty cells for gaps."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from genbench.board_csv import to_csv_frame
from genbench.leaderboard import aggregate, results_frame
from genbench.markdown import leaderboard_markdown
from genbench.results import Result, find_results, load_result


def result(model, seed, fid, variant="", flags=(), status="ok", **metrics):
    return Result(
        model=model,
        dataset="toy",
        seed=seed,
        variant=variant,
        status=status,
        flags=list(flags),
        error=None if status == "ok" else "diverged at step 7",
        protocol={
            "num_samples": 100,
            "reference_split": "train",
            "features": {"name": "raw", "fingerprint": "abc"},
        },
        metrics={} if status != "ok" else {"fid": fid, **metrics},
    )


@pytest.fixture
def results():
    return [
        result("ddpm", 0, 2.0, samples_per_s=10.0),
        result("ddpm", 1, 4.0, samples_per_s=12.0),
        result("copy", 0, 0.1, flags=["memorized"], memorization_rate=1.0),
        result("gan", 0, 9.0),
        result("gan", 1, float("nan"), status="diverged", flags=["diverged"]),
        result("ddim", 0, 3.0, variant="steps=10"),
    ]


def test_mean_std_over_seeds_and_rank(results):
    agg = aggregate(results_frame(results))
    ddpm = agg[agg["label"] == "ddpm"].iloc[0]
    assert ddpm["fid"] == pytest.approx(3.0)
    assert ddpm["fid_std"] == pytest.approx(math.sqrt(2.0))  # sample std (ddof=1) of 2 and 4
    assert ddpm["seeds"] == "0,1" and ddpm["n_ok"] == 2
    assert list(agg["label"]) == ["copy", "ddpm", "ddim[steps=10]", "gan"]
    assert list(agg["rank"]) == [1, 2, 2, 4]  # ddpm and ddim tie at FID 3: they share 2nd place
    gan = agg[agg["label"] == "gan"].iloc[0]
    assert gan["fid"] == 9.0 and math.isnan(gan["fid_std"])  # one ok seed: no spread
    assert "diverged" in gan["flags"] and gan["status"] != "ok"
    assert math.isnan(agg[agg["label"] == "gan"]["memorization_rate"].iloc[0])  # not computed: empty


def test_mean_and_std_of_three_seeds_are_the_sample_mean_and_std():
    """FIDs 1, 2 and 6: mean 3 (the median would be 2), std sqrt(((1-3)^2 + (2-3)^2 + (6-3)^2) / 2) = sqrt(7)."""
    agg = aggregate(results_frame([result("m", s, fid) for s, fid in enumerate((1.0, 2.0, 6.0))]))
    assert agg["fid"].iloc[0] == pytest.approx(3.0)
    assert agg["fid_std"].iloc[0] == pytest.approx(math.sqrt(7.0))


def test_a_metric_no_seed_of_a_row_computed_has_no_mean_and_no_spread():
    """ddpm never computed memorization_rate (copy did): its cell and its spread are both empty, in
    the frame and the CSV; a spread of 0 beside no mean would claim seeds that agree."""
    rs = [result("ddpm", s, 2.0 + s) for s in (0, 1)] + [result("copy", 0, 0.1, memorization_rate=1.0)]
    csv = to_csv_frame(aggregate(results_frame(rs))).set_index("label")
    assert csv.loc["ddpm", ["memorization_rate", "memorization_rate_std"]].isna().all()
    assert csv.loc["copy", "memorization_rate"] == 1.0


def test_seeds_that_agree_exactly_have_their_value_and_no_spread():
    """pandas' mean of three 0.1s is 0.10000000000000002 and their std 1.7e-17: the board read
    "0.1 ± 1.7e-17" for seeds that agree, and the CSV a mean that none of them had."""
    agg, md = board([run_result("copy", s, 0.1) for s in (0, 1, 2)])
    assert (agg["fid"].iloc[0], agg["fid_std"].iloc[0]) == (0.1, 0.0)
    assert "| 0.1000 ± 0 |" in next(ln for ln in md.splitlines() if "| copy " in ln)


def test_markdown_marks_flags_and_states_protocol(results):
    frame = results_frame(results)
    agg = aggregate(frame)
    md = leaderboard_markdown(frame, agg, "toy", {}, {("raw", "abc"): "`raw`"})
    assert "N = 100" in md and "**train** split" in md and "`raw`" in md and "seeds 0, 1" in md
    copy_row = next(ln for ln in md.splitlines() if "| copy" in ln)
    assert "**memorized**" in copy_row
    assert "3 ± 1.4" in md  # ddpm fid mean ± std
    assert "gan seed 1: diverged: diverged at step 7" in md


def test_arrows_are_the_metrics_own_directions_and_two_sided_ct_has_none():
    runs = [
        result("gan", s, 5.0 + s, ct=3.0, authpct=60.0, mode_kl=0.1, grad_norm_g_early=2.0) for s in (0, 1)
    ]
    frame = results_frame(runs)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    headers = [
        cell.strip() for line in md.splitlines() if line.startswith("|   rank") for cell in line.split("|")
    ]
    assert {"fid ↓", "authpct ↑", "mode_kl ↓"} <= set(headers)
    # C_T is ~0 for a model as close to the train set as fresh data; >> 0 underfits: no "higher is better"
    assert {"ct", "grad_norm_g_early"} <= set(headers)


def test_csv_columns_are_stable_snake_case(results):
    csv = to_csv_frame(aggregate(results_frame(results)))
    cols = list(csv.columns)
    assert cols[:4] == ["rank", "dataset", "model", "variant"]
    assert (
        cols.index("fid")
        < cols.index("fid_std")
        < cols.index("memorization_rate")
        < cols.index("samples_per_s")
    )


def test_results_round_trip(tmp_path, results):
    for r in results:
        r.write(tmp_path)
    paths = find_results(tmp_path)
    assert len(paths) == len(results)
    loaded = sorted((load_result(p) for p in paths), key=lambda r: (r.label, r.seed))
    assert [r.label for r in loaded] == sorted(r.label for r in results)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_is_genbenchs_own_never_an_enclosing_projects(tmp_path, monkeypatch):
    """git looks upwards: genbench installed into a project's .venv recorded the project's commit
    (and its "+dirty") as genbench's in every result."""
    from genbench import environment

    def git(*args):
        run = subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True)
        return run.stdout.strip()

    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "project")
    installed = tmp_path / ".venv/lib/python3.11/site-packages/genbench/environment.py"
    installed.parent.mkdir(parents=True)
    monkeypatch.setattr(environment, "__file__", str(installed))
    assert environment.git_commit() is None
    monkeypatch.setattr(
        environment, "__file__", str(tmp_path / "genbench/environment.py")
    )  # a checkout of it
    assert environment.git_commit() == git("rev-parse", "HEAD")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_is_asked_once_per_process_not_for_every_result(monkeypatch):
    """Every result's environment ran two git commands (about 25 ms): thousands in a test session,
    and a long run's later results recorded edits made in the checkout while it ran. The commit is
    read once per process, as the source digest is, and every result records that answer."""
    from genbench import environment

    calls = []
    git = environment._git
    monkeypatch.setattr(environment, "_git", lambda root, *args: calls.append(args) or git(root, *args))
    if hasattr(environment, "_git_commit"):  # absent before: every call then asks git
        environment._git_commit.cache_clear()
    commits = [environment.environment("cpu")["git_commit"] for _ in range(3)]
    assert commits[0] == commits[1] == commits[2] == environment.git_commit()
    assert 1 <= len(calls) <= 2  # rev-parse, and status where it is a checkout of genbench


def test_source_digest_tells_builds_apart_where_the_version_cannot(tmp_path):
    """An installed genbench recorded ``git_commit: null`` and ``genbench: 0.1.0``: the results of two
    builds with different metric or model code could not be told apart."""
    from genbench import environment

    here = environment.source_digest()
    assert here is not None and environment.environment("cpu")["source_digest"] == here
    dirs = environment._package_dirs()
    assert dirs["genbench"] == [Path(environment.__file__).parent]  # what Python imports, not a guess
    installed = tmp_path / "site-packages"
    for package in environment.SOURCE_PACKAGES:
        shutil.copytree(dirs[package][0], installed / package, ignore=shutil.ignore_patterns("__pycache__"))

    def digest():
        return environment.digest_sources({p: [installed / p] for p in environment.SOURCE_PACKAGES})

    assert digest() == here  # the same code installed elsewhere
    (installed / "genbench/__pycache__").mkdir(exist_ok=True)
    (installed / "genbench/__pycache__/results.cpython-311.pyc").write_bytes(b"compiled")
    assert digest() == here  # bytecode is no source
    ddim = installed / "baselines/ddim.py"
    ddim.write_bytes(ddim.read_bytes().replace(b"\n", b"\r\n"))
    assert digest() == here  # a checkout with Windows line ends holds the same code
    ddim.write_text(ddim.read_text().replace("eta: float = 0.0", "eta: float = 1.0"))
    assert digest() != here  # a reference model's default changed
    assert environment.digest_sources({"genbench": [tmp_path / "nowhere"]}) is None


def test_source_digest_skips_what_is_no_part_of_the_package(tmp_path):
    """An editor's lock file (``.#runner.py``, a dangling link) beside the sources crashed
    ``genbench run`` and ``genbench --version`` with FileNotFoundError."""
    from genbench import environment

    package = tmp_path / "genbench"
    package.mkdir()
    (package / "runner.py").write_text("x = 1\n")
    here = environment.digest_sources({"genbench": [package]})
    (package / ".#runner.py").symlink_to(tmp_path / "user@host.1234")  # emacs's lock: dangling
    (package / ".venv/lib").mkdir(parents=True)
    (package / ".venv/lib/site.py").write_text("y = 2\n")
    (package / "gone.py").symlink_to(tmp_path / "removed.py")  # dangling, not hidden
    assert environment.digest_sources({"genbench": [package]}) == here
    (package / "added.py").write_text("z = 3\n")
    assert environment.digest_sources({"genbench": [package]}) != here


def test_per_run_spreads_are_not_confused_with_seed_spreads():
    rs = [result("m", s, 1.0 + s, kid=0.1, kid_std=0.05) for s in (0, 1, 2)]
    agg = aggregate(results_frame(rs))
    assert agg["kid_std"].iloc[0] == pytest.approx(0.0)  # spread over seeds, not KID's subset std
    assert isinstance(pd.DataFrame(agg), pd.DataFrame)


# -- protocols: seeds are averaged only within one ----------------------------------------------


def run_result(model, seed, fid=None, *, status="ok", metric_errors=None, metrics=None, **protocol):
    """A result with a full protocol as `genbench run` records it; ``protocol`` overrides fields
    (``features``/``fingerprint`` the extractor's, ``fid_backend``/``fid_version`` FID's settings)."""
    fields = {"num_samples": 200, "reference_split": "train", "reference_stats": None}
    fields.update({k: v for k, v in protocol.items() if k in fields})
    values = {} if fid is None else {"fid": fid}
    return Result(
        model=model,
        dataset="digits",
        seed=seed,
        status=status,
        error=None if status == "ok" else "CUDA out of memory",
        flags=[] if status == "ok" else ["failed"],
        protocol={}
        if status != "ok"
        else {
            **fields,
            "features": {
                "name": protocol.get("features", "classifier"),
                "fingerprint": protocol.get("fingerprint", f"{protocol.get('features', 'classifier')}-v1"),
            },
            "seed": seed,
            "dataset_fingerprint": protocol.get("dataset_fingerprint", "d1"),
            **({"mode_labeller": protocol["mode_labeller"]} if "mode_labeller" in protocol else {}),
            "device": f"cuda:{seed}",  # how it ran, not what it measured: never splits a row
            "batch_size": 500,
            "metric_versions": {"fid": protocol.get("fid_version", 1), "kid": 1},
            "metric_options": {
                "fid": {"backend": protocol.get("fid_backend", "torch-fidelity")},
                "kid": {"subsets": 100},
            },
        },
        metrics={} if status != "ok" else {**values, **(metrics if metrics is not None else {"kid": 0.5})},
        metric_errors=metric_errors or {},
    )


def test_rows_on_different_seeds_show_their_seeds(results):
    """copy and ddim ran seed 0 only, ddpm and gan seeds 0 and 1: the caption's seeds are not every
    row's, so the table says which seeds each row averages."""
    frame = results_frame(results)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    assert (
        "seeds 0, 1; cells are mean ± std (sample std, n - 1) over each row's seeds (the seeds column).\n"
        in md
    )
    header = next(ln for ln in md.splitlines() if ln.startswith("|") and "fid" in ln)
    assert [c.strip() for c in header.strip("|").split("|")][:3] == ["rank", "model", "seeds"]
    rows = {
        ln.split("|")[2].strip(): ln.split("|")[3].strip() for ln in md.splitlines() if ln.startswith("| ")
    }
    assert rows["copy"] == "0" and rows["ddpm"] == "0,1" and rows["ddim[steps=10]"] == "0"


def test_a_failed_seed_is_not_one_of_its_rows_seeds():
    """gaussian's seed 2 failed: its cells average seeds 0 and 1, so the board must not say they are
    over seeds 0, 1, 2 as copy's are; it shows each row's seeds and names the failed one."""
    rs = [run_result("copy", s, 30.0 + s) for s in (0, 1, 2)]
    rs += [run_result("gaussian", 0, 200.0), run_result("gaussian", 1, 240.0)]
    rs += [run_result("gaussian", 2, status="failed")]
    agg, md = board(rs)
    gaussian = agg[agg["label"] == "gaussian"].iloc[0]
    assert (gaussian["seeds"], gaussian["failed_seeds"], gaussian["n_ok"]) == ("0,1", "2", 2)
    assert (
        "seeds 0, 1, 2; cells are mean ± std (sample std, n - 1) over each row's seeds (the seeds column)."
        in md
    )
    row = next(ln for ln in md.splitlines() if ln.startswith("|") and "gaussian" in ln)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "0,1" and "seed 2 of 3 without samples" in cells[3]
    assert "†" not in md  # every cell is over all of its row's (ok) seeds
    assert "- gaussian seed 2: failed: CUDA out of memory" in md
    # seed 2 failed for every model: no row averages it, and the caption does not claim it
    _, md = board([r for r in rs if r.model == "gaussian"] + [run_result("copy", s, 30.0) for s in (0, 1)])
    assert "seeds 0, 1; cells are mean ± std (sample std, n - 1) over seeds." in md


def board(results):
    frame = results_frame(results)
    agg = aggregate(frame)
    return agg, leaderboard_markdown(frame, agg, "digits", {}, {})


def test_the_quality_table_says_kid_is_not_scaled_as_papers_print_it():
    """The board showed `kid 32.8` with no unit: torch-fidelity's value, which papers mostly print
    x 10^3 (or x 100), so a reader compared it with a paper's scaled KID. A board without KID says
    nothing of it."""
    for kid, said in ((0.0328, True), (None, False)):
        frame = results_frame([result("ddpm", s, 3.0 + s, **({"kid": kid} if kid else {})) for s in (0, 1)])
        md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {})
        start = md.index("## Quality")
        quality = md[start : md.index("\n|", start)]
        assert ("`kid` is the unbiased MMD² itself" in quality and "× 10³" in quality) is said, quality


def test_cmmd_has_a_column_on_the_board_lower_is_better():
    """`--metrics cmmd` reached the results and the CSV but no table of the board (its column was in
    no section), and the board said nothing of it. Now it is a Quality column beside kid, lower is
    better, whose caption says it is CMMD only in clip features."""
    frame = results_frame([result("ddpm", s, 3.0 + s, cmmd=0.7 + s) for s in (0, 1)])
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {})
    start = md.index("## Quality")
    quality = md[start:]
    assert "cmmd ↓" in quality and "1.2" in quality, quality
    assert "is CMMD only in `clip` features" in quality, quality


def test_vendi_has_no_better_direction_on_the_board():
    """The board headed `vendi ↑` (higher is better) while uniform noise scores far above the data
    (62.6 against the train split's 6.65 in raw digits): it is read against `vendi_ref`, as the
    caption says, with no arrow, as ct."""
    frame = results_frame([result("ddpm", s, 3.0 + s, vendi=5.0 + s, vendi_ref=6.5) for s in (0, 1)])
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {})
    header = next(line for line in md.splitlines() if "vendi" in line and line.startswith("|"))
    assert re.search(r"\|\s*vendi\s*\|", header) and "↑" not in header and "↓" not in header, header


def test_every_in_tree_metric_column_is_on_the_board():
    """A metric added without a place in metric_columns.SECTIONS reaches the CSV alone (cmmd did); the
    in-tree columns left off the board are these, on purpose."""
    from genbench.metric_columns import METRIC_COLUMNS, _in_tree_metrics, metric_columns

    csv_only = {"is_std", "kid_std", "memorization_rate_heldout", "memorization_rate_loo", "modes_expected"}
    off_board = {c for m in _in_tree_metrics() for c in metric_columns(m)} - set(METRIC_COLUMNS)
    assert off_board == csv_only


def test_the_memorization_table_names_what_its_columns_are_measured_against():
    """The caption names the reference split and the features, and memorization_rate, authpct and ct
    are measured against neither: always the train split (ct with the test split as fresh data), in
    pixels by default. A board made against the test split read as if the samples copied the test
    split. mode_kl's reference histogram is the split's own labels, not the labeller's, so a copy of
    the reference scores the labeller's errors (1.5e-5 for the digits copy control), not 0."""
    for split in ("train", "test"):
        values = {"memorization_rate": 0.0, "authpct": 90.0, "ct": 4.7, "mode_kl": 0.01}
        frame = results_frame([run_result("ddpm", 0, 14.0, metrics=values, reference_split=split)])
        md = leaderboard_markdown(frame, aggregate(frame), "digits", {}, {})
        assert f"vs the **{split}** split" in md
        start = md.index("## Memorization and modes")
        caption = md[start : md.index("\n|", start)]
        assert "with the **train** split whatever the reference split" in caption, caption
        assert "`memorization.space`" in caption and "below 0" in caption, caption
        assert "`mode_kl`" in caption and "own labels" in caption, caption
    # a board without these columns says nothing of them
    frame = results_frame([run_result("ddpm", 0, 14.0)])
    md = leaderboard_markdown(frame, aggregate(frame), "digits", {}, {})
    assert "whatever the reference split" not in md and "own labels" not in md


def test_runs_without_samples_are_listed_by_seed_as_a_number():
    """The list followed the result files' order, where seed10.json sorts before seed2.json."""
    rs = [result("gan", 10, 0.0, status="diverged"), result("gan", 2, 0.0, status="diverged")]
    rs += [result("gan", 0, 5.0)]
    frame = results_frame(rs)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {})
    listed = md[md.index("## Runs without samples") :].splitlines()[2:4]
    assert [line.split(":")[0] for line in listed] == ["- gan seed 2", "- gan seed 10"]


def test_the_caption_names_the_metric_options_every_row_shares():
    """The FID backend or PRDC's k change the numbers: the markdown names the options all rows share
    as --metric-option spells them. Options that differ between rows are in the rows' labels
    (a protocol of their own), so not in the caption, which would name one of them for all."""
    _, md = board([run_result("copy", s, 1.0) for s in (0, 1)])
    caption = next(ln for ln in md.splitlines() if ln.startswith("Protocol:"))
    assert caption.endswith(
        "cells are mean ± std (sample std, n - 1) over seeds. "
        "Metric options (`--metric-option`): fid.backend=torch-fidelity, kid.subsets=100."
    )
    rs = [run_result("copy", 0, 1.0), run_result("copy", 1, 1.0, fid_backend="clean-fid")]
    _, md = board(rs)
    caption = next(ln for ln in md.splitlines() if ln.startswith("Protocol:"))
    assert caption.count("Metric options (`--metric-option`): kid.subsets=100.") == 1
    assert "fid.backend=" not in caption and "Rows differ in fid.backend" in caption


def test_the_caption_names_no_options_of_a_metric_no_row_computed():
    """A run records the options of every metric it planned, and the conditional metrics are in the
    default set: the regenerated digits board's caption named cas.lr and intra_fid.backend, though
    they apply to class-conditional models alone and no row had a value of either."""
    planned = {"cas": {"lr": 0.003}, "intra_fid": {"backend": "torch-fidelity"}}

    def run(seed, **values):
        r = run_result("ddpm", seed, 14.0, metrics={"kid": 0.5, **values})
        r.protocol["metric_options"] = {**r.protocol["metric_options"], **planned}
        return r

    _, md = board([run(0), run(1)])
    caption = next(ln for ln in md.splitlines() if ln.startswith("Protocol:"))
    assert caption.endswith(
        "Metric options (`--metric-option`): fid.backend=torch-fidelity, kid.subsets=100."
    )
    _, md = board([run(0, cas=0.9, cas_ref=0.95), run(1)])  # one row with a value names them
    caption = next(ln for ln in md.splitlines() if ln.startswith("Protocol:"))
    assert "cas.lr=0.003, fid.backend=torch-fidelity, kid.subsets=100." in caption
    assert "intra_fid.backend" not in caption


def test_a_one_seed_board_promises_no_spread():
    """One seed has no std: "mean ± std over seeds" described cells that show none."""
    _, md = board([run_result("copy", 0, 1.0), run_result("gaussian", 0, 9.0)])
    assert "; seed 0; one seed, so cells have no spread." in md
    assert "± std" not in md


def test_different_protocols_are_separate_labelled_rows_never_averaged():
    rs = [
        run_result("copy", 0, 17.6, num_samples=200),
        run_result("copy", 1, 1.5, num_samples=1000),
        run_result("copy", 2, 0.5, features="raw"),
        run_result("copy", 3, 25.0, reference_split="test"),
        run_result("copy", 4, 17.0, num_samples=200),  # same protocol as seed 0: averaged with it
    ]
    agg, md = board(rs)
    assert len(agg) == 4
    by_seeds = agg.set_index("seeds")
    assert by_seeds.loc["0,4", "fid"] == pytest.approx(17.3)
    assert by_seeds.loc["1", "fid"] == 1.5 and by_seeds.loc["2", "fid"] == 0.5
    assert by_seeds.loc["1", "num_samples"] == "1000" and by_seeds.loc["2", "features"] == "raw"
    assert by_seeds.loc["1", "protocol"] == "N=1000, reference=train, features=classifier"
    assert by_seeds.loc["2", "protocol"] == "N=200, reference=train, features=raw"
    rows = [ln for ln in md.splitlines() if ln.startswith("|") and "copy" in ln and "fid" not in ln]
    assert len(rows) == 4
    assert any("copy (N=200, reference=test, features=classifier)" in ln and " 25 |" in ln for ln in rows)
    assert "varies by row" not in md
    assert "Rows differ in N, reference and features" in md
    assert "seeds are averaged, and rows ranked, only within one protocol" in md
    csv = to_csv_frame(agg)
    for col in ("protocol", "num_samples", "reference_split", "reference_stats", "features"):
        assert col in csv.columns
    assert {"features_fingerprint", "metric_options", "notes"} <= set(csv.columns)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"reference_stats": "/stats/digits_train.npz"}, "reference stats=digits_train.npz"),
        ({"fingerprint": "classifier-retrained"}, "features fingerprint=classifier-retrained"),
        ({"dataset_fingerprint": "d2"}, "dataset fingerprint=d2"),
        ({"mode_labeller": "classifier-c2"}, "mode labeller=classifier-c2"),
        ({"fid_backend": "clean-fid"}, "fid.backend=clean-fid"),
        ({"fid_version": 2}, "fid v2"),
    ],
)
def test_every_protocol_field_that_changes_the_numbers_splits_rows(change, expected):
    agg, md = board([run_result("m", 0, 1.0), run_result("m", 1, 3.0, **change)])
    assert sorted(agg["fid"]) == [1.0, 3.0]  # never the 2.0 average
    assert expected in set(agg["protocol"])
    assert f"m ({expected})" in md
    assert "seeds are averaged, and rows ranked, only within one protocol" in md


def test_a_mode_labeller_that_only_follows_the_features_is_not_named():
    """Digits under --features raw (modes labelled by the classifier) beside digits under the
    classifier's features (which label them: no labeller recorded), as two result folders combine:
    the features tell the rows apart, and the classifier row read "mode labeller=none" (modes
    were labelled). Two labellers under one features name still split and name their rows."""
    classifier, raw = run_result("m", 0, 1.0), run_result("m", 1, 3.0, features="raw", mode_labeller="c1")
    agg, md = board([classifier, raw])
    assert sorted(agg["protocol"]) == ["features=classifier", "features=raw"]
    assert "mode labeller" not in md
    agg, md = board([raw, run_result("m", 2, 5.0, features="raw", mode_labeller="c2")])
    assert sorted(agg["protocol"]) == ["mode labeller=c1", "mode labeller=c2"]


@pytest.mark.parametrize(
    ("field", "a", "b"),
    [
        ("reference_stats", "/data/a/stats.npz", "/data/b/stats.npz"),
        ("fingerprint", "classifier-31c2:resize=nearest", "classifier-31c2:resize=bilinear"),
    ],
)
def test_protocols_whose_short_values_collide_are_labelled_apart(field, a, b):
    """Shortened to `stats.npz` or `classifier-31c2`, two protocols read as one in their row labels."""
    agg, md = board([run_result("m", 0, 1.0, **{field: a}), run_result("m", 1, 3.0, **{field: b})])
    assert len(agg) == 2 and agg["row_label"].nunique() == 2
    for value in (a, b):
        assert sum(value in label for label in agg["row_label"]) == 1


def test_an_option_recorded_as_null_and_one_not_recorded_are_labelled_apart():
    """kid.subset_size null in one run and absent in another (a result of a version without the
    option) are two protocols; both labels read "kid.subset_size=none", two rows of one model that
    the board did not tell apart. So did a version edited from 1 into "1"."""
    a, b = run_result("m", 0, 1.0), run_result("m", 1, 3.0)
    a.protocol["metric_options"]["kid"]["subset_size"] = None
    agg, md = board([a, b])
    assert len(agg) == 2 and agg["row_label"].nunique() == 2
    assert set(agg["protocol"]) == {"kid.subset_size=none", "kid.subset_size=not recorded"}
    assert "Rows differ in kid.subset_size" in md
    b.protocol["metric_options"]["kid"]["subset_size"] = None
    b.protocol["metric_versions"]["kid"] = "1"
    agg, _ = board([a, b])
    assert len(agg) == 2 and agg["row_label"].nunique() == 2


def kid_run(model, seed, num_samples, subset_size=None, num_reference=1437):
    r = run_result(model, seed, 1.0 + seed, num_samples=num_samples)
    r.protocol["num_reference"] = num_reference
    r.protocol["metric_options"]["kid"]["subset_size"] = subset_size
    return r


def test_the_board_names_the_kid_subset_size_used_not_its_unset_default():
    """KID's unset subset size (recorded as null) is min(1000, samples, reference examples): the
    caption read "kid.subset_size=none", which named no protocol. It names the size used, derived
    from the protocol's N and reference size; rows whose sizes differ say so in their labels, and an
    explicit size equal to the default's is the same protocol."""
    agg, md = board([kid_run("m", 0, 1437), kid_run("m", 1, 1437)])
    assert "kid.subset_size=1000, kid.subsets=100" in md and "kid.subset_size=none" not in md
    assert json.loads(agg["metric_options"].iloc[0])["kid"]["subset_size"] == 1000
    agg, md = board([kid_run("m", 0, 200), kid_run("m", 1, 200)])
    assert "kid.subset_size=200, kid.subsets=100" in md
    agg, md = board(
        [kid_run("m", 0, 200), kid_run("m", 1, 200), kid_run("n", 0, 1437), kid_run("n", 1, 1437)]
    )
    # each size the default that its N sets: the labels name N alone (see the test below)
    assert set(agg["protocol"]) == {"N=200", "N=1437"}
    agg, _ = board([kid_run("m", 0, 1437), kid_run("m", 1, 1437, subset_size=1000)])
    assert len(agg) == 1 and agg["seeds"].iloc[0] == "0,1"


def test_a_kid_subset_size_that_only_follows_n_is_not_repeated_in_row_labels():
    """Unset, KID's subset size is min(1000, N, reference size): rows at N=200 and N=300 were labelled
    "N=200, kid.subset_size=200" and "N=300, kid.subset_size=300", and the caption said they differ
    in "N and kid.subset_size", the second only because of the first (the old code's
    _metric_differences listed every differing option). A size set apart from N is still named, on
    every row, as are sizes that follow N beside one that does not (which N alone would not tell apart)."""
    agg, md = board([kid_run("m", 0, 200), kid_run("m", 1, 300)])
    assert list(agg["row_label"]) == ["m (N=200)", "m (N=300)"]
    assert "Rows differ in N: a row's label" in md and "kid.subset_size=200" not in md
    assert "kid.subset_size=min(1000, N)" in md  # the caption names the rule the sizes follow
    # explicitly the default (1000 at N=5000): the same as unset, so also not named
    agg, _ = board([kid_run("m", 0, 5000, subset_size=1000), kid_run("m", 1, 300)])
    assert set(agg["protocol"]) == {"N=5000", "N=300"}
    agg, md = board([kid_run("m", 0, 200), kid_run("m", 1, 300, subset_size=100)])
    assert set(agg["protocol"]) == {"N=200, kid.subset_size=200", "N=300, kid.subset_size=100"}
    assert "Rows differ in N and kid.subset_size" in md
    agg, _ = board([kid_run("m", 0, 200), kid_run("m", 1, 300), kid_run("m", 2, 300, subset_size=100)])
    assert set(agg["protocol"]) == {
        "N=200, kid.subset_size=200",
        "N=300, kid.subset_size=300",
        "N=300, kid.subset_size=100",
    }


def extrapolated_run(model, seed, min_size=None):
    """A run with fid_inf and is_inf, their ``min_size`` as recorded (None: unset, the default)."""
    r = run_result(model, seed, 13.0 + seed, metrics={"fid_inf": 10.0 + seed, "is_inf": 8.9})
    r.protocol["metric_versions"].update(fid_inf=1, is_inf=1)
    r.protocol["metric_options"].update(
        fid_inf={"points": 15, "min_size": min_size}, is_inf={"points": 15, "min_size": min_size}
    )
    return r


def test_the_board_names_the_rule_of_an_unset_fid_inf_min_size_not_none():
    """fid_inf's and is_inf's min_size, unset (recorded as null), is max(N // 10, 2 d) (2 K for IS's K
    classes): the extrapolated board's caption read "fid_inf.min_size=none, ... is_inf.min_size=none",
    which named no smallest subset, on which the intercept depends. It names the rule, in the caption
    and in the labels of rows that differ in it; a size that was set is named as it is."""
    _, md = board([extrapolated_run("m", 0), extrapolated_run("m", 1)])
    assert "min_size=none" not in md
    assert "fid_inf.min_size=max(N // 10, 2 × feature dimension), fid_inf.points=15" in md
    assert "is_inf.min_size=max(N // 10, 2 × classes), is_inf.points=15" in md
    _, md = board([extrapolated_run("m", s, min_size=300) for s in (0, 1)])
    assert "fid_inf.min_size=300" in md and "is_inf.min_size=300" in md
    agg, md = board([extrapolated_run("m", 0), extrapolated_run("m", 1, min_size=300)])
    assert set(agg["protocol"]) == {
        "fid_inf.min_size=max(N // 10, 2 × feature dimension), is_inf.min_size=max(N // 10, 2 × classes)",
        "fid_inf.min_size=300, is_inf.min_size=300",
    }
    assert "min_size=none" not in md


def test_a_metrics_options_that_rows_share_are_named_beside_one_that_differs():
    """A metric whose settings differ between rows was left out of the "Metric options" caption
    whole (the old shared_metric_settings skipped every metric in the protocol): at N=200 and N=300
    KID's subset size follows N, so neither the labels nor the caption named ``kid.subsets=50``, nor
    any size; rows apart in ``prdc.k_pr`` did not name the ``prdc.k_dc`` they share. Markdown and
    LaTeX alike (the LaTeX caption is the markdown's)."""
    from genbench.latex import leaderboard_latex

    rs = [kid_run("m", 0, 200), kid_run("m", 1, 300)]
    for r in rs:
        r.protocol["metric_options"]["kid"]["subsets"] = 50
    agg, md = board(rs)
    assert list(agg["row_label"]) == ["m (N=200)", "m (N=300)"]
    shared = "Metric options (`--metric-option`): fid.backend=torch-fidelity, kid.subset_size=min(1000, N), kid.subsets=50."
    assert shared in md and "Rows differ in N:" in md
    tex = leaderboard_latex(results_frame(rs), agg, "digits", {})
    assert r"kid.subset\_size=min(1000, N), kid.subsets=50." in tex
    prdc = {"precision": 0.5, "recall": 0.5, "density": 1.0, "coverage": 0.5}
    rs = [run_result("m", s, 1.0, metrics={"kid": 0.5, **prdc}) for s in (0, 1)]
    rs[0].protocol["metric_options"]["prdc"] = {"k_pr": 3, "k_dc": 5}
    rs[1].protocol["metric_options"]["prdc"] = {"k_pr": 5, "k_dc": 5}
    agg, md = board(rs)
    assert set(agg["protocol"]) == {"prdc.k_pr=3", "prdc.k_pr=5"} and "Rows differ in prdc.k_pr:" in md
    assert (
        "fid.backend=torch-fidelity, kid.subsets=100, prdc.k_dc=5." in md
        and "prdc.k_pr=" not in md.split("Rows differ")[0]
    )


def test_show_values_tells_apart_values_that_read_the_same_in_full():
    from genbench.protocols import show_values

    one, other = show_values("subsets", [1, "1"])  # an option edited from a number into text
    assert one != other and one.startswith("1 #") and other.startswith("1 #")
    assert show_values("reference_stats", ["/a/x.npz", "/b/y.npz"]) == ["x.npz", "y.npz"]


def test_device_and_batch_size_do_not_split_rows():
    agg, _ = board([run_result("m", 0, 1.0), run_result("m", 1, 3.0)])  # on cuda:0 and cuda:1
    assert len(agg) == 1 and agg["fid"].iloc[0] == 2.0 and agg["protocol"].iloc[0] == ""


def test_ranks_are_within_one_protocol():
    rs = [
        run_result("a", 0, 10.0),
        run_result("b", 0, 20.0),
        run_result("b", 1, 0.1, features="raw"),
    ]
    agg, _ = board(rs)
    # the most-run protocol leads; a raw-feature FID of 0.1 does not outrank classifier FIDs
    assert list(zip(agg["label"], agg["rank"], strict=True)) == [("a", 1), ("b", 2), ("b", 1)]


def test_one_protocol_looks_as_before(results):
    both_ok = [result("gan", s, 9.0 + s) for s in (0, 1)]  # ddpm and gan both ok on seeds 0, 1
    frame = results_frame([r for r in results if r.model == "ddpm"] + both_ok)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    assert (
        "Protocol: N = 100 samples per model and seed vs the **train** split; features: `raw`; "
        "seeds 0, 1; cells are mean ± std (sample std, n - 1) over seeds.\n" in md
    )
    header = next(ln for ln in md.splitlines() if ln.startswith("|") and "fid" in ln)
    assert [c.strip() for c in header.strip("|").split("|")][:4] == ["rank", "model", "flags", "fid ↓"]
    assert "| gan " in md and "(" not in next(ln for ln in md.splitlines() if "| gan " in ln)
    assert "†" not in md and "## Notes" not in md


def test_failed_run_without_protocol_joins_its_models_only_protocol():
    rs = [run_result("m", 0, 1.0), run_result("m", 1, status="failed")]
    agg, md = board(rs)
    assert len(agg) == 1 and agg["status"].iloc[0] != "ok"
    assert (agg["seeds"].iloc[0], agg["failed_seeds"].iloc[0]) == ("0", "1")  # seed 1 has no numbers
    rs += [run_result("m", 2, 5.0, num_samples=1000)]  # now its protocol is a guess: a row of its own
    agg, md = board(rs)
    assert "m (protocol not recorded)" in md
    assert set(agg["seeds"]) == {"0", "", "2"} and set(agg["failed_seeds"]) == {"", "1"}


def test_a_failed_seed_joins_its_models_protocol_among_the_datasets_several():
    """m ran at N=200 (seed 1 failed before it recorded a protocol), b at N=1000: the dataset has two
    protocols but m only one, so m's failed seed is counted in m's row, not a row of its own."""
    rs = [
        run_result("m", 0, 1.0),
        run_result("m", 1, status="failed"),
        run_result("b", 0, 5.0, num_samples=1000),
    ]
    agg, md = board(rs)
    assert len(agg) == 2 and "protocol not recorded" not in md
    m = agg[agg["label"] == "m"].iloc[0]
    assert (m["seeds"], m["failed_seeds"], m["num_samples"]) == ("0", "1", "200")


def test_a_seed_without_a_protocol_leaves_the_sample_count_whole():
    """A failed seed records no protocol, so pandas makes the num_samples column float (200.0 beside
    a gap): the CSV and the caption still say N = 200, never 200.0."""
    rs = [run_result("m", 0, 1.0), run_result("m", 1, 3.0), run_result("m", 2, status="failed")]
    agg, md = board(rs)
    assert to_csv_frame(agg)["num_samples"].tolist() == ["200"]
    assert "N = 200 samples per model and seed" in md


def test_a_model_whose_every_seed_failed_does_not_make_the_board_show_each_rows_seeds():
    """x failed on both seeds, m ran on both: the only row with numbers averages seeds 0 and 1, the
    caption's seeds, so the board needs no seeds column (x's row averages nothing)."""
    rs = [run_result("m", s, 1.0 + s) for s in (0, 1)] + [run_result("x", s, status="failed") for s in (0, 1)]
    _, md = board(rs)
    assert "seeds 0, 1; cells are mean ± std (sample std, n - 1) over seeds." in md
    header = next(ln for ln in md.splitlines() if ln.startswith("|") and "fid" in ln)
    assert "seeds" not in [c.strip() for c in header.strip("|").split("|")]


def test_ok_run_with_numbers_but_no_protocol_is_never_averaged_into_another():
    """A hand-made result with an FID but no protocol measured something unknown: it used to join
    the model's only protocol and pull its mean from 17 to 345."""
    unrecorded = run_result("copy", 2, 1000.0)
    unrecorded.protocol = {}
    agg, md = board([run_result("copy", 0, 17.0), run_result("copy", 1, 19.0), unrecorded])
    assert sorted(agg["fid"]) == [18.0, 1000.0]
    assert set(agg["protocol"]) == {"", "protocol not recorded"}
    assert "| copy (protocol not recorded) |" in md and "whether the protocol was recorded" in md
    # a failed run without a protocol still joins the model's only one (one row counts its failure)
    agg, _ = board([run_result("copy", 0, 17.0), run_result("copy", 1, status="failed")])
    assert len(agg) == 1


# -- a metric missing for some of a row's seeds -------------------------------------------------


def test_metric_failed_for_some_seeds_is_marked_and_explained():
    rs = [
        run_result("gaussian", 0, 200.0),
        run_result("gaussian", 1, metric_errors={"fid": "fid: covariance is singular"}),
        run_result("gaussian", 2, 220.0),
    ]
    agg, md = board(rs)
    assert len(agg) == 1 and agg["n_ok"].iloc[0] == 3
    assert agg["fid"].iloc[0] == pytest.approx(210.0)  # over the seeds that have one
    row = next(ln for ln in md.splitlines() if "| gaussian" in ln and "210" in ln)
    assert "210 ± 14 †" in row
    note = "fid from 2 of 3 seeds (seeds 0, 2); seed 1: fid: covariance is singular"
    assert f"- gaussian: {note}" in md
    assert to_csv_frame(agg)["notes"].iloc[0] == note
    assert "kid" not in agg["notes"].iloc[0]  # kid has all three seeds


def test_metric_failed_for_every_seed_shows_the_error_not_an_empty_cell():
    rs = [run_result("m", s, metric_errors={"fid": "fid: boom"}) for s in (0, 1)]
    _, md = board(rs)
    header = next(ln for ln in md.splitlines() if ln.startswith("|") and "model" in ln)
    assert "fid ↓" in header  # the column stays although no row has a value
    assert "error †" in next(ln for ln in md.splitlines() if "| m " in ln)
    assert "- m: fid: no value; seed 0: fid: boom; seed 1: fid: boom" in md


def test_metric_that_failed_for_one_seed_and_was_not_run_for_the_other_shows_the_error():
    """No seed has an FID: seed 0's failed, seed 1 ran without it. The failure is still the cell's and
    the note's, not an empty cell as for a metric that applies to no seed."""
    rs = [run_result("m", 0, metric_errors={"fid": "fid: boom"}), run_result("m", 1)]
    rs[1].protocol["metric_versions"].pop("fid")  # `--metrics kid` for seed 1
    rs[1].protocol["metric_options"].pop("fid")
    agg, md = board(rs)
    assert len(agg) == 1
    assert "error †" in next(ln for ln in md.splitlines() if "| m " in ln)
    assert "- m: fid: no value; seed 0: fid: boom; seed 1: no value recorded" in md


def test_metric_not_run_for_a_seed_is_marked_without_splitting_the_row():
    rs = [run_result("m", 0, 1.0, metrics={"kid": 0.5}), run_result("m", 1, 3.0, metrics={})]
    rs[1].protocol["metric_versions"].pop("kid")  # `--metrics fid` for seed 1
    rs[1].protocol["metric_options"].pop("kid")
    agg, md = board(rs)
    assert len(agg) == 1 and agg["fid"].iloc[0] == 2.0
    assert "- m: kid from 1 of 2 seeds (seed 0); seed 1: no value recorded" in md


def test_invalid_metric_option_for_one_seed_is_its_own_row_with_the_error():
    """The audit's repro: seed 1 rerun with --metric-option fid.backend=cleanfid (an error)."""
    rs = [
        run_result("gaussian", 0, 225.0),
        run_result(
            "gaussian",
            1,
            fid_backend="cleanfid",
            metric_errors={"fid": "fid: unknown backend 'cleanfid'; use one of torch-fidelity, clean-fid"},
        ),
    ]
    agg, md = board(rs)
    assert list(agg["protocol"]) == ["fid.backend=torch-fidelity", "fid.backend=cleanfid"]
    assert list(agg["n_ok"]) == [1, 1]
    bad = next(ln for ln in md.splitlines() if "| gaussian (fid.backend=cleanfid)" in ln)
    assert "error †" in bad
    assert "seed 1: fid: unknown backend 'cleanfid'" in md


# -- a leaderboard without a single sample ------------------------------------------------------


def test_all_runs_failed_has_a_sensible_caption():
    _, md = board([run_result(m, s, status="failed") for m in ("vae", "gan") for s in (0, 1)])
    assert "****" not in md and "N =  " not in md and "features: ;" not in md
    assert "No run produced samples (seeds 0, 1)" in md
    assert "Ranked by FID" not in md and "\n\n\n" not in md
    assert md.count(": failed: CUDA out of memory") == 4


def test_figures_plot_one_protocol():
    from genbench.board_figures import main_protocol_rows

    rs = [run_result("a", 0, 1.0), run_result("a", 1, 2.0), run_result("a", 2, 3.0, features="raw")]
    main, name = main_protocol_rows(aggregate(results_frame(rs)))
    assert list(main["seeds"]) == ["0,1"] and name == "features=classifier"


def test_the_api_functions_are_not_shadowed_by_submodules():
    """``genbench.report`` is the API function; its module used to be ``genbench/report.py``, whose
    import (by the CLI, or by the function itself) replaced the function with the module."""
    import importlib
    import pkgutil

    import genbench

    for info in pkgutil.walk_packages(genbench.__path__, "genbench."):
        importlib.import_module(info.name)
    for name in ("run", "evaluate", "report"):
        assert callable(getattr(genbench, name)) and getattr(genbench, name).__module__ == "genbench", name


@pytest.mark.parametrize(
    "edit, named",
    [
        ({"seed": "zero"}, "field 'seed' is 'zero'"),
        # JSON true is a Python int: read as seed 1 (or an FID of 1.0) it named the wrong file, or ranked
        ({"seed": True}, "field 'seed' is True, not int"),
        ({"metrics": {"fid": True}}, "metric 'fid' is True, not a number"),
        ({"metrics": None}, "field 'metrics' is None"),
        ({"protocol": None}, "field 'protocol' is None"),
        ({"metrics": {"fid": "low"}}, "metric 'fid' is 'low'"),
        ({"protocol": {"features": "classifier"}}, "protocol.features is 'classifier'"),
        ({"protocol": {"num_samples": "lots"}}, "protocol.num_samples is 'lots'"),
        ({"status": "great"}, "status 'great'"),
        ({"schema": 99}, "written by a newer genbench (result schema 99"),
        # a newer genbench may change a field's type: its result is not corrupt ("delete it")
        ({"schema": 99, "training": [{"phase": "x"}]}, "written by a newer genbench (result schema 99"),
        # fields whose items the leaderboard reads: each was a traceback, or a silently wrong board
        ({"flags": [1]}, "flags[0] is 1, not str"),
        ({"protocol": {"metric_versions": ["fid"]}}, "protocol.metric_versions is ['fid']"),
        ({"protocol": {"metric_versions": {"fid": [1]}}}, "protocol.metric_versions['fid'] is [1]"),
        ({"protocol": {"metric_options": {"fid": "x"}}}, "protocol.metric_options['fid'] is 'x'"),
        ({"protocol": {"reference_stats": ["a.npz"]}}, "protocol.reference_stats is ['a.npz']"),
        ({"protocol": {"features": {"name": 5}}}, "protocol.features.name is 5"),
        ({"metric_errors": {"fid": 5}}, "metric_errors['fid'] is 5, not str"),
        ({"artifacts": {"samples": 5}}, "artifacts['samples'] is 5, not str"),
        ({"training_log": [5]}, "training_log[0] is 5, not dict"),
        ({"metrics": {"status": 1.0}}, "metric 'status' has the name of a leaderboard column"),
        ({"metrics": {"fid": 2.0, "seed": 7}}, "metric 'seed' has the name of a leaderboard column"),
        # read as no value: the board's train_s cell said nothing was recorded
        ({"timings": {"train_s": "slow"}}, "timings['train_s'] is 'slow', not a number"),
        ({"timings": {"samples_per_s": True}}, "timings['samples_per_s'] is True, not a number"),
        ({"timings": {"nfe": [1]}}, "timings['nfe'] is [1], not a number"),
    ],
)
def test_a_hand_edited_result_is_one_error_line_naming_the_field(cli, tmp_path, edit, named):
    """The file is left out with one line naming its field; the other seed's board is written (the
    report stopped at the file, and wrote no board at all)."""
    import json

    path = result("ddpm", 0, 2.0).write(tmp_path / "runs")
    result("ddpm", 1, 3.0).write(tmp_path / "runs")
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    r = cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("wrote ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], r.stderr
    assert str(path) in lines[0]
    assert pd.read_csv(tmp_path / "boards/toy.csv")["seeds"].astype(str).tolist() == ["1"]


def test_a_null_timing_is_read_as_no_value(tmp_path):
    """A timing recorded as null is no value, as before; a number is read as itself."""
    path = result("ddpm", 0, 2.0).write(tmp_path / "runs")
    path.write_text(json.dumps({**json.loads(path.read_text()), "timings": {"train_s": None, "nfe": 4}}))
    assert load_result(path).timings == {"train_s": None, "nfe": 4}
    row = results_frame([load_result(path)]).iloc[0]
    assert pd.isna(row["train_s"])


def test_a_result_with_a_key_this_genbench_does_not_know_is_read(cli, tmp_path):
    """A key a later genbench (or a person) added used to make the whole report refuse the file
    with "delete it and rerun that model"; the fields this version knows are all it needs."""
    import json

    path = result("ddpm", 0, 2.0).write(tmp_path / "runs")
    path.write_text(json.dumps({**json.loads(path.read_text()), "notes": "rerun on the new GPU"}))
    assert load_result(path) == result("ddpm", 0, 2.0)
    r = cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 0, r.output


def test_seeds_trained_under_different_configs_are_not_averaged():
    """Seeds 0 and 1 before an edit of ddpm's config (or a genbench upgrade that changed it), seed 2
    after, and seed 3 trained with --amp: one row "ddpm" used to average three different networks."""
    runs = []
    for seed, fid, dropout, amp in [
        (0, 2.0, 0.1, False),
        (1, 4.0, 0.1, False),
        (2, 9.0, 0.0, False),
        (3, 5.0, 0.0, True),
    ]:
        r = result("ddpm", seed, fid)
        r.config = {"dropout": dropout, "lr": 2e-3}
        r.training = {"model_version": 2, "amp": amp, "loaded": seed == 1}  # loaded: not the model
        runs.append(r)
    failed = result("ddpm", 4, float("nan"), status="failed")  # failed before its config was resolved
    others = [result("vae", s, 50.0 + s) for s in (0, 1)]
    for r in others:
        r.config, r.training = {"lr": 1e-3}, {"model_version": 1, "amp": False}
    frame = results_frame([*runs, failed, *others])
    agg = aggregate(frame)
    ddpm = agg[agg["label"] == "ddpm"].set_index("seeds")
    assert sorted(ddpm.index) == ["", "0,1", "2", "3"]  # "": the failed seed 4, no ok seed
    assert ddpm.loc["0,1", "fid"] == pytest.approx(3.0) and ddpm.loc["2", "fid"] == 9.0
    assert ddpm.loc["0,1", "config_differs"] == "amp=false, dropout=0.1"
    assert ddpm.loc["3", "config_differs"] == "amp=true, dropout=0.0"
    assert ddpm.loc["", "config_differs"] == "no config recorded" and ddpm.loc["", "failed_seeds"] == "4"
    assert len({*ddpm["row_label"]}) == 4 and all(lb.startswith("ddpm (config ") for lb in ddpm["row_label"])
    vae = agg[agg["label"] == "vae"].iloc[0]  # one config: one row, as always
    assert (vae["row_label"], vae["seeds"], vae["config_differs"]) == ("vae", "0,1", "")
    md = leaderboard_markdown(frame, agg, "toy", {}, {("raw", "abc"): "`raw`"})
    assert "## Seeds trained under different model configs" in md
    # one seed is "seed 2", as the flags and the seeds without samples say it (it was "seeds 2")
    assert f"- {ddpm.loc['2', 'row_label']}, seed 2: amp=false, dropout=0.0" in md
    assert f"- {ddpm.loc['0,1', 'row_label']}, seeds 0, 1: amp=false, dropout=0.1" in md
    assert f"- {ddpm.loc['', 'row_label']}, seed 4 without samples: no config recorded" in md
    assert "config_differs" in to_csv_frame(agg).columns
    # a failed run joins its label's only config: no split
    lone = aggregate(results_frame([runs[0], failed]))
    assert list(lone["seeds"]) == ["0"] and list(lone["failed_seeds"]) == ["4"]
    assert list(lone["row_label"]) == ["ddpm"]


def test_seeds_of_two_versions_of_an_included_file_are_not_averaged():
    """A model of a file that ``--include`` named, seed 0 run before an edit to the file and seed 1
    after: its checkpoint key hashes the file's content, as it hashes ``version``, so they are other
    networks; one row "my-gan" averaged them (FID 0.13 ± 0.16 of 0.019 and 0.24), its sources line
    naming both digests."""
    runs = []
    for seed, fid, digest in [(0, 0.019, "a" * 64), (1, 0.24, "b" * 64), (2, 0.03, "a" * 64)]:
        r = result("my-gan", seed, fid)
        r.config, r.training = {"scale": 1.0}, {"model_version": 1, "amp": False}
        r.environment = {"model_file": "/research/my_model.py", "model_file_sha256": digest}
        runs.append(r)
    agg = aggregate(results_frame(runs)).set_index("seeds")
    assert sorted(agg.index) == ["0,2", "1"]
    assert agg.loc["0,2", "fid"] == pytest.approx(0.0245) and agg.loc["1", "fid"] == 0.24
    assert agg.loc["1", "config_differs"] == 'model_file_sha256="bbbbbbbbbbbb"'
    assert agg.loc["1", "model_source"] == "my_model.py sha256 bbbbbbbbbbbb"


def test_seeds_of_two_versions_of_a_notebooks_class_are_not_averaged():
    """A model defined in a notebook cell, seed 1 run after an edit to the class: its checkpoint key
    hashes the class's source (``model_class_sha256``), so the seeds are other networks, two rows."""
    runs = []
    for seed, fid, digest in [(0, 0.019, "a" * 64), (1, 0.24, "b" * 64)]:
        r = result("my-gan", seed, fid)
        r.config, r.training = {"scale": 1.0}, {"model_version": 1, "amp": False}
        r.environment = {"model_class": "__main__:MyGan", "model_class_sha256": digest}
        runs.append(r)
    agg = aggregate(results_frame(runs)).set_index("seeds")
    assert sorted(agg.index) == ["0", "1"]
    assert agg.loc["1", "config_differs"] == 'model_class_sha256="bbbbbbbbbbbb"'
    assert agg.loc["1", "model_source"] == "__main__ sha256 bbbbbbbbbbbb"


# -- no FID: nothing to rank by ------------------------------------------------------------------


def no_fid(model, dataset="toy", seed=0):
    """A run made with ``--metrics prdc``: no FID, so no ranking."""
    r = result(model, seed, 0.0, precision=0.5 + seed / 10)
    r.dataset = dataset
    r.metrics.pop("fid")
    return r


def header_cells(md):
    header = next(ln for ln in md.splitlines() if ln.startswith("|") and "model" in ln)
    return [c.strip() for c in header.strip("|").split("|")]


def test_without_fid_rows_are_not_ranked_and_not_said_to_be():
    rs = [no_fid("a"), no_fid("b"), no_fid("b", seed=1)]
    frame = results_frame(rs)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    # no rank that ranks nothing; b ran seeds 0 and 1, a only 0, so the seeds column says so
    assert header_cells(md)[:4] == ["model", "seeds", "flags", "precision ↑"]
    assert "Ranked by FID" not in md and "not ranked: no FID was computed" in md
    assert "**memorized**" in md  # the flags are still explained
    rs[2].protocol["num_samples"] = 200  # two protocols: the caption ranks nothing either
    frame = results_frame(rs)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    assert "seeds are averaged only within one protocol" in md and "ranked" not in md.replace(
        "not ranked", ""
    )


def test_report_without_fid_over_several_datasets(tmp_path):
    """The audit's repro: `report` of two datasets run with `--metrics prdc` was a traceback."""
    from genbench.reporting import write_report

    for dataset in ("grid25", "ring8"):
        for model in ("a", "b"):
            no_fid(model, dataset).write(tmp_path / "runs")
    pages = write_report(tmp_path / "runs", tmp_path / "boards")
    assert sorted(pages) == ["grid25", "ring8"]
    for dataset, md in pages.items():
        assert "rank" not in header_cells(md) and "Ranked by FID" not in md
        assert "| a " in md and "| b " in md
        # the CSV keeps its columns where they always are: the first is rank, empty
        csv = pd.read_csv(tmp_path / "boards" / f"{dataset}.csv")
        assert list(csv.columns[:3]) == ["rank", "dataset", "model"] and csv["rank"].isna().all()


def test_each_boards_features_caption_describes_its_own_extractor(tmp_path):
    """digits' classifier and stacked-digits' per-channel one share the name `classifier`: each
    board's caption described whichever the first result read, on both boards."""
    from genbench.reporting import write_report

    extractors = {
        "digits": {"name": "classifier", "fingerprint": "clf-1", "test_accuracy": 0.983},
        "stacked-digits": {"name": "classifier", "fingerprint": "clf-1-per-channel", "test_accuracy": 0.946},
    }
    for dataset, features in extractors.items():
        r = result("copy", 0, 1.0)
        r.dataset, r.protocol = dataset, {**r.protocol, "features": features}
        r.write(tmp_path / "runs")
    pages = write_report(tmp_path / "runs", tmp_path / "boards")
    assert "`classifier` (test accuracy 98.3%; fingerprint clf-1);" in pages["digits"]
    assert "`classifier` (test accuracy 94.6%; fingerprint clf-1-per-channel);" in pages["stacked-digits"]
    assert "94.6%" not in pages["digits"] and "98.3%" not in pages["stacked-digits"]


def test_rows_without_an_fid_get_no_rank_but_keep_their_flags():
    """A row whose seeds all failed was ranked after the others, as if last by FID; so was a row
    whose FID failed for every seed, and every row of a dataset run without FID beside one with."""
    rs = [
        run_result("a", 0, 10.0),
        run_result("b", 0, 5.0),
        run_result("dead", 0, status="failed"),
        run_result("dead", 1, status="failed"),
        run_result("nofid", 0, metric_errors={"fid": "fid: covariance is singular"}),
    ]
    agg, md = board(rs)
    ranks = dict(zip(agg["label"], agg["rank"], strict=True))
    assert ranks["b"] == 1 and ranks["a"] == 2
    assert pd.isna(ranks["dead"]) and pd.isna(ranks["nofid"])
    dead = next(ln for ln in md.splitlines() if "| dead " in ln)
    assert dead.split("|")[1].strip() == "" and "**failed**" in dead
    assert next(ln for ln in md.splitlines() if "| nofid " in ln).split("|")[1].strip() == ""
    assert "rows without an FID are not ranked" in md
    csv = to_csv_frame(agg).to_csv(index=False)
    assert "\n1,digits,b," in csv and "\n,digits,dead," in csv  # integers, and empty for no rank

    other = no_fid("c", dataset="ring8")  # another dataset, run with --metrics prdc
    frame = results_frame([*rs, other])
    md = leaderboard_markdown(frame, aggregate(frame), "ring8", {}, {})
    assert "rank" not in header_cells(md) and "not ranked" in md


def test_rank_is_the_first_csv_column_with_or_without_fid():
    """Only a board with an FID had a rank column: a CSV of a run without FID began with dataset,
    and every column after it moved one place from where CSV_FRONT (and a reader's script) has it."""
    from genbench.board_csv import CSV_FRONT

    without = to_csv_frame(aggregate(results_frame([no_fid("a"), no_fid("b")])))
    with_fid = to_csv_frame(aggregate(results_frame([result("a", 0, 1.0), result("b", 0, 2.0)])))
    front = [c for c in CSV_FRONT if c in with_fid]
    assert list(without.columns[: len(front)]) == front == list(with_fid.columns[: len(front)])
    assert without["rank"].isna().all() and str(without["rank"].dtype) == "Int64"
    assert without.to_csv(index=False).splitlines()[1].startswith(",toy,a,")  # empty, not "<NA>"


def test_tied_fids_share_a_rank_within_their_protocol():
    """Equal FIDs were ranked 1 and 2 by the order their files were read: a tie is one place, and
    the next row's place counts both (1, 1, 3), per protocol."""
    rs = [
        run_result("b", 0, 10.0),
        run_result("a", 0, 10.0),
        run_result("c", 0, 12.0),
        run_result("d", 0, 5.0),
        run_result("e", 0, 3.0, features="raw"),
        run_result("f", 0, 3.0, features="raw"),
    ]
    agg, md = board(rs)
    ranks = list(zip(agg["row_label"].str.split(" ").str[0], agg["rank"], strict=True))
    assert ranks == [("d", 1), ("b", 2), ("a", 2), ("c", 4), ("e", 1), ("f", 1)]  # ties keep their order
    shown = [
        [c.strip()[:1] for c in ln.split("|")[1:3]] for ln in md.splitlines() if ln.startswith("|      ")
    ]
    assert shown == [["1", "d"], ["2", "b"], ["2", "a"], ["4", "c"], ["1", "e"], ["1", "f"]]
    assert "\n2,digits,b," in to_csv_frame(agg).to_csv(index=False)


def test_a_row_that_lost_some_seeds_says_so_in_its_flags_and_the_legend():
    """a's seed 2 diverged and b's failed: each row is ranked by its other two seeds, which the
    legend used to call rows "(no samples)", and b's flags read "**failed;ok**"."""
    rs = [result("a", s, 1.0 + s) for s in (0, 1)] + [
        result("a", 2, 0.0, status="diverged", flags=["diverged"])
    ]
    rs += [result("b", s, 3.0 + s) for s in (0, 1)] + [result("b", 2, 0.0, status="failed")]
    rs += [result("c", s, 0.0, status="diverged", flags=["diverged"]) for s in (0, 1)]
    rs += [result("ok", s, 5.0 + s) for s in (0, 1, 2)]
    frame = results_frame(rs)
    agg = aggregate(frame)
    md = leaderboard_markdown(frame, agg, "toy", {}, {("raw", "abc"): "`raw`"})
    assert list(zip(agg["label"], agg["rank"], strict=True))[:3] == [("a", 1), ("b", 2), ("ok", 3)]
    quality = md.split("## FID gaps")[0]  # the first table's rows, each with its flags
    flags = {
        ln.split("|")[2].strip(): ln.split("|")[4].strip()
        for ln in quality.splitlines()
        if ln.startswith("| ")
    }
    assert flags["a"] == "**diverged** (seed 2 of 3 without samples; cells over seeds 0, 1)"
    assert flags["b"] == "**failed** (seed 2 of 3 without samples; cells over seeds 0, 1)"
    assert flags["c"] == "**diverged** (seeds 0, 1 without samples)"  # no numbers: as before
    assert flags["ok"] == "" and "failed;ok" not in md and "(no samples)" not in md
    assert (
        "**diverged**/**failed** (the seeds named have no samples); a flagged row is not a usable model, "
        "however low its FID. A row with a diverged or failed seed (`a` and `b`) averages only the seeds "
        "that remain: its numbers are real, but it is no reliable model, however high it ranks.\n" in md
    )
    # without such a row the legend is the one the published boards have
    frame = results_frame([r for r in rs if r.model in ("c", "ok")])
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    assert (
        "Flags: **memorized** (copies training data), **collapsed** (misses modes), **diverged**/**failed** "
        "(no samples); a flagged row is not a usable model, however low its FID.\n" in md
    )


def test_a_flag_only_some_seeds_earned_names_those_seeds():
    """A row is flagged when any of its seeds is: "**collapsed**" alone said so of a GAN that
    collapsed on one seed of three, whose cells average two that did not."""
    gan = [run_result("gan", s, 40.0 + s) for s in (0, 1, 2)]
    gan[1].flags = ["collapsed"]
    copy = [run_result("copy", s, 0.0) for s in (0, 1)]
    for r in copy:
        r.flags = ["memorized"]
    _, md = board(gan + copy)

    def flags(model):
        return next(ln for ln in md.splitlines() if f"| {model} " in ln).split("|")[4].strip()

    assert flags("gan") == "**collapsed** (seed 1 only)"
    assert flags("copy") == "**memorized**"  # every seed earned it


def test_numbers_of_four_or_more_digits_are_written_whole():
    """The published board showed an FID of 2307 ± 477 as "2.31e+03 ± 4.8e+02" and an NFE of 1000
    as "1e+03 ± 0"; small numbers keep their significant digits, trailing zeros included (and tiny ones
    their exponent)."""
    from genbench.cells import fmt

    cases = {
        (2307.2, 477.3): "2307 ± 480",
        (1000.0, 0.0): "1000 ± 0",
        (802381.4, 1.3e5): "802381 ± 130000",
        (3003.0, 710.0): "3003 ± 710",
        (999.7, 99.7): "1000 ± 100",  # rounded up into a fourth digit
        (-2500.0, 30.0): "-2500 ± 30",
        (13.72, 0.35): "13.7 ± 0.35",
        (150.4, 14.2): "150 ± 14",
        (-11.14, float("nan")): "-11.1",
        (0.0005436, 0.00023): "0.0005436 ± 0.00023",
        (1.453e-05, 4.7e-06): "1.453e-05 ± 4.7e-06",
        (9_876_543_210.4, 1.0): "9876543210 ± 1",  # ten integer digits: still whole
        (2.32922059488182112e17, 1.2e16): "2.33e+17 ± 1.2e+16",  # mifid of a copy: no 18-digit number
        (float("nan"), 1.0): "",
        # trailing zeros are significant digits: the audit's "2 ± 0.0084" and "17 ± 3.3"
        (1.999477, 0.0084): "2.00 ± 0.0084",
        (16.9966, 3.34): "17.0 ± 3.3",
        (0.25, 0.5): "0.2500 ± 0.50",
        (8.0, 0.0): "8 ± 0",  # whole numbers stay whole: a count every seed agreed on
        (0.0, 0.0): "0 ± 0",
    }
    assert {args: fmt(*args) for args in cases} == cases
    _, md = board([run_result("m", 0, 1969.7), run_result("m", 1, 2644.7)])
    assert "| 2307 ± 480 " in md and "e+0" not in md


# -- figures of what was measured ----------------------------------------------------------------


def ddim_sweep(**metrics_per_step):
    """DDIM step-sweep results: ``steps10={"fid": 5.0}`` -> ddim[steps=10] with those metrics."""
    rs = []
    for name, metrics in metrics_per_step.items():
        r = result("ddim", 0, 0.0, variant=f"steps={name.removeprefix('steps')}")
        r.metrics = dict(metrics)
        rs.append(r)
    return aggregate(results_frame(rs))


def test_ddim_step_curve_plots_fid_without_a_speed_axis(tmp_path):
    """The audit's repro: a DDIM sweep run with `--metrics fid` (no throughput) was an AttributeError."""
    from genbench.board_figures import ddim_step_curve

    agg = ddim_sweep(steps10={"fid": 5.0}, steps20={"fid": 4.0})
    path = ddim_step_curve(agg, tmp_path / "ddim.png")
    assert path is not None and path.is_file()
    agg = ddim_sweep(steps10={"fid": 5.0, "samples_per_s": 9.0}, steps20={"fid": 4.0, "samples_per_s": 5.0})
    assert ddim_step_curve(agg, tmp_path / "ddim-speed.png").is_file()  # with speed, as before
    agg = ddim_sweep(steps10={"samples_per_s": 9.0}, steps20={"samples_per_s": 5.0})
    assert ddim_step_curve(agg, tmp_path / "none.png") is None  # no FID: no curve
    assert not (tmp_path / "none.png").exists()


def test_gan_dynamics_figure_skips_logs_without_the_gan_keys(tmp_path):
    """A log with d_fake but not every key the plot needs (a plugin GAN's, an older genbench's)
    made the report fail; a log whose GAN rows start after its first row was left out."""
    from genbench.board_figures import gan_dynamics

    partial = result("gan", 0, 5.0)
    partial.training_log = [{"step": s, "d_fake": 0.3, "loss_g": 1.0} for s in range(5)]
    assert gan_dynamics([partial], tmp_path / "gan.png") is None
    late = result("gan-sat", 0, 6.0)
    rows = [{"step": s, "d_real": 0.9, "d_fake": 0.1, "grad_norm_g": 0.01} for s in range(1, 5)]
    late.training_log = [{"step": 0, "loss_g": 2.0}, *rows]
    path = gan_dynamics([partial, late], tmp_path / "gan.png")
    assert path is not None and path.is_file()


def test_gan_dynamics_figure_plots_an_ok_seed_and_names_a_failed_one(tmp_path, monkeypatch):
    """Each label's lowest seed was plotted, under the plain label, even a seed that diverged: a
    model's dynamics read from the one run that broke. An ok seed is plotted now, and a label with
    none names the seed and its outcome."""
    from genbench.board_figures import gan_dynamics
    from genbench.metrics import gan_dynamics as module

    def log(d_fake: float) -> list[dict]:
        return [{"step": s, "d_real": 0.9, "d_fake": d_fake, "grad_norm_g": 0.1} for s in range(1, 5)]

    drawn: dict[str, list[dict]] = {}
    monkeypatch.setattr(module, "plot_gan_dynamics", lambda logs, path: drawn.update(logs) or path)
    broke, fine = result("gan-ns", 0, 0.0, status="diverged"), result("gan-ns", 1, 5.0)
    broke.training_log, fine.training_log = log(0.01), log(0.4)
    only = result("gan-sat", 2, 0.0, status="diverged")
    only.training_log = log(0.02)
    assert gan_dynamics([broke, fine, only], tmp_path / "gan.png") is not None
    assert drawn == {"gan-ns (seed 1)": fine.training_log, "gan-sat (seed 2, diverged)": only.training_log}


def test_gan_dynamics_figure_says_what_its_bold_faint_and_dotted_lines_are(tmp_path, monkeypatch):
    """A PNG read apart from its board did not say that the bold line is a moving average (over
    how many logged values), the faint line the raw values, nor the dotted line D = 1/2."""
    from matplotlib.figure import Figure

    from genbench.metrics.gan_dynamics import plot_gan_dynamics

    made: list[Figure] = []
    savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: made.append(self) or savefig(self, *a, **k))

    def log(n: int) -> list[dict]:
        return [{"step": 10 * s, "d_real": 0.6, "d_fake": 0.4, "grad_norm_g": 0.1} for s in range(n)]

    def said() -> str:
        return " ".join(t.get_text().replace("\n", " ") for t in made[-1].texts)

    plot_gan_dynamics({"gan-ns (seed 0)": log(500), "gan-sat (seed 0)": log(500)}, tmp_path / "gan.png")
    assert "bold lines: moving average over 10 of the 500 logged values (2%)" in said()
    assert "faint lines: each logged value" in said() and "dotted: D = 1/2" in said()
    plot_gan_dynamics({"gan-ns (seed 0)": log(500), "gan-sat (seed 0)": log(300)}, tmp_path / "gan.png")
    assert "bold lines: moving average over 2% of each run's logged values" in said()


def test_report_of_a_ddim_sweep_without_throughput(tmp_path):
    from genbench.reporting import write_report

    for steps, fid in ((10, 5.0), (20, 4.0)):
        r = result("ddim", 0, fid, variant=f"steps={steps}")
        r.dataset = "ring8"
        r.write(tmp_path / "runs")
    md = write_report(tmp_path / "runs", tmp_path / "boards")["ring8"]
    assert "[DDIM step curve](ring8/ddim_step_curve.png)" in md
    assert (tmp_path / "boards/ring8/ddim_step_curve.png").is_file()


@pytest.mark.parametrize("kind", ["directory", "permission"])
def test_an_unreadable_result_file_is_one_error_line_naming_it(cli, tmp_path, monkeypatch, kind):
    """An OSError reading a result (a directory named seed1.json, a file without read permission)
    was a traceback: load_results caught only the errors of a file's contents. Left out, the other
    result's board is written."""
    from genbench import unreadable_results

    result("ddpm", 0, 2.0).write(tmp_path / "runs")
    path = result("ddpm", 1, 3.0).write(tmp_path / "runs")
    if kind == "directory":
        path.unlink()
        path.mkdir()
    else:  # chmod does not stop root, so the read fails as it would for another user
        real = unreadable_results.load_result

        def denied(p):
            if p == path:
                raise PermissionError(13, "Permission denied", str(p))
            return real(p)

        monkeypatch.setattr(unreadable_results, "load_result", denied)
    r = cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("wrote ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], r.stderr
    assert ("Is a directory" if kind == "directory" else "Permission denied") in lines[0]
    assert f"out of {tmp_path / 'runs'}" in lines[0]  # the fix


def test_the_cost_caption_says_whose_training_a_weights_from_rows_train_s_timed():
    """ddim's row, and a sampler plugin's over ddpm's weights, showed ddpm's train_s in the Cost
    table as if each had trained that long; the caption now names whose training it timed."""

    def timed(model, variant="", owner=None):
        r = result(model, 0, 3.0, variant=variant, samples_per_s=5.0)
        r.training = {"weights_from": owner} if owner else {}
        r.timings = {"train_s": 103.0}
        r.environment = {"device": "cpu", "cpu": "EPYC", "cpu_threads": 1}
        return r

    rows = [
        timed("ddpm"),
        timed("ddim", owner="ddpm"),
        timed("heun", "steps=20", owner="ddpm"),
        timed("gan"),
    ]
    frame = results_frame(rows)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {("raw", "abc"): "`raw`"})
    assert "The `train_s` of `ddim` and `heun` is `ddpm`'s, whose trained weights they sample" in md
    alone = results_frame(rows[:2])
    md = leaderboard_markdown(alone, aggregate(alone), "toy", {}, {("raw", "abc"): "`raw`"})
    assert "The `train_s` of `ddim` is `ddpm`'s, whose trained weights it samples" in md
    assert "`gan`" not in md.split("## Cost")[1].split("|")[0]  # it trained its own


def test_timing_caption_names_each_machine_and_says_what_it_does_not_know():
    from genbench.environment import machine_text
    from genbench.markdown import timing_caption

    assert machine_text({"device": "cuda:0", "gpu": "NVIDIA H200", "cpu": "Xeon", "cpu_threads": 16}) == (
        "NVIDIA H200"
    )
    assert machine_text({"device": "cpu", "cpu": "Xeon", "cpu_threads": 2}) == "CPU: Xeon, 2 threads"
    # one thread in the singular (OMP_NUM_THREADS=1 runs said "1 threads"): fails on the old code
    assert machine_text({"device": "cpu", "cpu": "Xeon", "cpu_threads": 1}) == "CPU: Xeon, 1 thread"
    # one model name, two instruction sets: an AVX-512 EPYC ran the suite about twice as fast
    epyc = {"device": "cpu", "cpu": "AMD EPYC", "cpu_capability": "AVX512", "cpu_threads": 2}
    assert machine_text(epyc) == "CPU: AMD EPYC (AVX512), 2 threads"
    assert machine_text({**epyc, "cpu_capability": "AVX2"}) != machine_text(epyc)
    assert machine_text({"device": "cpu"}) == "CPU" and machine_text({}) == ""

    def runs(*rows, timed=True, label="m"):
        frame = pd.DataFrame(rows, columns=["status", "machine", "trained_on"])
        return frame.assign(samples_per_s=1.0 if timed else None, train_s=1.0, label=label)

    assert timing_caption(runs(("ok", "A", "A"), ("ok", "A", ""))) == "Timed on A."  # "": a control
    assert timing_caption(runs(("ok", "A", "B"), ("failed", "C", "C"))) == (
        "Sampling timed on A; `train_s` on B."  # a run without samples timed nothing
    )
    assert timing_caption(runs(("ok", "B", "A"), ("ok", "A", None))) == (
        "Sampling timed on A; B; `train_s` on A, and for checkpoints that predate recording it, on a "
        "machine they do not name. The Cost cells of `m` average seeds timed on different machines."
    )
    assert timing_caption(runs(("failed", "A", "A"))) is None
    # `genbench eval`: nothing timed, not even training
    assert timing_caption(runs(("ok", "A", None), timed=False).assign(train_s=None)) is None
    eval_and_run = pd.concat([runs(("ok", "B", None)).assign(train_s=None), runs(("ok", "A", "A"))])
    assert timing_caption(eval_and_run) == (
        "Sampling timed on A; B; `train_s` on A. The Cost cells of `m` average seeds timed on different machines."
    )
    # one row per machine: nothing averaged across them
    apart = pd.concat([runs(("ok", "A", "A"), label="x"), runs(("ok", "B", "B"), label="y")])
    assert timing_caption(apart) == (
        "Timed on A; B. Rows were timed differently (`sampled on` and `trained on` in the table): their "
        "Cost cells compare the machines as much as the models."
    )
    trained_apart = pd.concat([runs(("ok", "A", "A"), ("ok", "A", "B"), label="x"), runs(("ok", "A", "A"))])
    assert " The Cost cells of `x` average seeds timed on different machines." in timing_caption(
        trained_apart
    )
    assert timing_caption(pd.DataFrame({"status": ["ok"]})) is None  # a frame made without machines
    # samples/s and memory are per batch size: seeds sampled at two sizes were averaged unsaid
    sized = pd.concat([runs(("ok", "A", "A"), ("ok", "A", "A")).assign(batch_size=[500, 50])])
    assert timing_caption(sized) == (
        "Timed on A. Sampled in batches of 50 and 500. The Cost cells of `m` average seeds sampled at "
        "different batch sizes."
    )
    assert (
        timing_caption(runs(("ok", "A", "A")).assign(batch_size=500))
        == "Timed on A. Sampled in batches of 500."
    )
    no_training = pd.DataFrame({"status": ["ok"], "machine": ["A"], "samples_per_s": [1.0], "label": ["m"]})
    assert timing_caption(no_training) == "Timed on A."  # no trained_on column: nothing said of training


def timed_run(model, seed, machine, n=200, batch_size=500):
    """A run that timed its sampling on ``machine`` (a CPU's name), ``n`` samples at ``batch_size``."""
    r = run_result(model, seed, 1.0 + seed, num_samples=n, metrics={"samples_per_s": 100.0 * (seed + 1)})
    r.protocol["batch_size"] = batch_size
    r.environment = {"cpu": machine}
    return r


def test_rows_timed_on_different_machines_say_which_in_the_table_and_the_csv():
    """The caption named every machine ("Timed on CPU: A; CPU: B.") but not which row ran where, and the
    CSV had no machine at all: a row timed on a fast machine sat beside one timed on a slow one, in
    the Cost table and in pandas, as the faster model."""
    agg, md = board([timed_run("fast", 0, "A"), timed_run("slow", 0, "B"), timed_run("slow", 1, "B")])
    cost = md[md.index("## Cost") :]
    header = next(ln for ln in cost.splitlines() if ln.startswith("|"))
    assert [c.strip() for c in header.strip("|").split("|")][:5] == [
        "rank",
        "model",
        "seeds",
        "flags",
        "sampled on",
    ]
    assert re.search(r"\| fast .*\| CPU: A +\|", cost) and re.search(r"\| slow .*\| CPU: B +\|", cost)
    assert "Rows were timed differently (`sampled on` in the table)" in cost
    csv = pd.read_csv(io.StringIO(to_csv_frame(agg).to_csv(index=False))).set_index("label")
    assert (csv.loc["fast", "sampled_on"], csv.loc["slow", "sampled_on"]) == ("CPU: A", "CPU: B")
    assert csv.loc["fast", "batch_size"] == 200  # one batch of all 200 samples
    # one machine: the table as it was, no column that says the same for every row
    _, md = board([timed_run("fast", 0, "A"), timed_run("slow", 0, "A")])
    assert "sampled on" not in md and "timed differently" not in md


def test_fid_against_speed_names_the_machine_of_rows_timed_on_different_ones(tmp_path, monkeypatch):
    """The figure's x axis is samples/s: a row timed on a fast machine plotted right of one timed on a
    slow one, as the faster model, with nothing on the figure to say so."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    agg = aggregate(results_frame([timed_run("fast", 0, "A"), timed_run("slow", 0, "B")]))
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    assert sorted(t.get_text() for t in made[-1].axes[0].texts) == ["fast [on CPU: A]", "slow [on CPU: B]"]
    agg = aggregate(results_frame([timed_run("fast", 0, "A"), timed_run("slow", 0, "A")]))
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    assert sorted(t.get_text() for t in made[-1].axes[0].texts) == ["fast", "slow"]  # one machine: as before


def test_the_ddim_step_curve_names_the_machine_of_step_counts_timed_on_different_ones(tmp_path, monkeypatch):
    """Its samples/s axis drew one speed curve through step counts sampled on two machines (a sweep
    resumed elsewhere), with nothing on the figure to say so; the FID-against-samples/s figure names
    each point's machine and batch, from the same per-row facts."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])

    def sweep(*machines, batches=(500, 500)):
        rs = []
        for steps, machine, batch in zip((10, 50), machines, batches, strict=True):
            r = timed_run("ddim", 0, machine, n=1000, batch_size=batch)
            r.variant = f"steps={steps}"
            rs.append(r)
        assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
        return {t.get_text() for ax in made[-1].axes for t in ax.texts}

    assert sweep("A", "B") == {"[on CPU: A]", "[on CPU: B]"}
    assert sweep("A", "A", batches=(500, 50)) == {"[batch 50]", "[batch 500]"}
    assert sweep("A", "A") == set()  # timed alike: the figure as it was


def test_a_board_without_samples_per_s_says_where_train_s_was_timed():
    """A run without throughput (`--metrics fid`) still records train_s, which the Cost table shows:
    the caption, written only when sampling was timed, said nothing of where training was, and of
    rows trained on two machines only the table's column told, without the sentence that says
    their cells compare the machines."""
    from genbench.markdown import timing_caption

    def trained(model, where):
        r = run_result(model, 0, 1.0)
        r.timings, r.training = {"train_s": 60.0}, {"trainable": True, "trained_on": where}
        r.environment = {"cpu": "Z"}  # the eval machine: sampling was not timed, so never named
        return r

    _, md = board([trained("vae", "CPU: A"), trained("gan", "CPU: B")])
    cost = md[md.index("## Cost") :]
    assert cost.splitlines()[2] == (
        "`train_s` timed on CPU: A; CPU: B. Rows were timed differently (`trained on` in the table): their "
        "Cost cells compare the machines as much as the models."
    )
    assert re.search(r"\| vae .*\| CPU: A +\|", cost) and re.search(r"\| gan .*\| CPU: B +\|", cost)
    _, md = board([trained("vae", "CPU: A"), trained("gan", "CPU: A")])
    assert "`train_s` timed on CPU: A.\n" in md and "CPU: Z" not in md
    assert "on a machine they do not name" in timing_caption(results_frame([trained("vae", None)]))


def test_a_checkpoint_an_older_genbench_timed_on_1_threads_is_this_machine():
    """A checkpoint trained before 6 December recorded its machine as "..., 1 threads", as the result
    that loaded it does: beside a row trained here since ("..., 1 thread") the Cost caption read two
    machines, "Rows were timed differently", of one machine. "11 threads" is left as it is."""

    def trained(model, where):
        r = run_result(model, 0, 1.0)
        r.timings, r.training = {"train_s": 60.0}, {"trainable": True, "trained_on": where}
        return r

    _, md = board([trained("vae", "CPU: A (AVX512), 1 threads"), trained("gan", "CPU: A (AVX512), 1 thread")])
    cost = md[md.index("## Cost") :]
    assert "`train_s` timed on CPU: A (AVX512), 1 thread.\n" in cost and "timed differently" not in cost
    from genbench.environment import machine_as_written

    assert (
        machine_as_written("CPU: A, 11 threads then CPU: B, 1 threads")
        == "CPU: A, 11 threads then CPU: B, 1 thread"
    )


def test_a_label_split_by_protocol_is_not_said_to_average_machines_or_batches():
    """copy at N=200 on A and at N=300 on B are two rows, each timed on one machine at one batch: the
    caption, which grouped seeds by label, said the Cost cells of `copy` averaged seeds timed on
    different machines and sampled at different batch sizes, which neither row does."""
    _, md = board([timed_run("copy", 0, "A"), timed_run("copy", 1, "B", n=300)])
    cost = md[md.index("## Cost") :]
    assert "average seeds" not in cost
    assert "| 200 " in cost and "| 300 " in cost  # the batch each row sampled in, in its own column
    # one row that does average two machines is still named, by its row label
    _, md = board([timed_run("copy", 0, "A"), timed_run("copy", 1, "B"), timed_run("copy", 2, "B", n=300)])
    assert "The Cost cells of `copy (N=200)` average seeds timed on different machines." in md


def test_the_timing_caption_names_the_batch_a_run_sampled_in():
    """`--samples 200` at the default --batch-size 500 drew one batch of 200: the caption said
    "Sampled in batches of 500", beside samples/s measured at 200."""
    from genbench.markdown import timing_caption

    def timed(n, batch_size, seed=0):
        r = result("m", seed, 1.0, samples_per_s=10.0)
        r.protocol.update(num_samples=n, batch_size=batch_size)
        r.environment = {"cpu": "A"}
        return r

    assert timing_caption(results_frame([timed(200, 500)])) == "Timed on CPU: A. Sampled in batches of 200."
    assert timing_caption(results_frame([timed(1437, 500)])).endswith(" Sampled in batches of 500.")
    # two seeds of 200 samples at --batch-size 500 and 1000 sampled alike: nothing to warn of
    alike = results_frame([timed(200, 500), timed(200, 1000, seed=1)])
    assert timing_caption(alike) == "Timed on CPU: A. Sampled in batches of 200."


def test_the_readme_digits_table_is_the_published_board():
    """The README's results table is copied by hand from ``leaderboards/digits.csv``; a board
    regenerated without the README (or the reverse) would publish two sets of numbers."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    board = pd.read_csv(root / "leaderboards/digits.csv").set_index("label")
    readme = (root / "README.md").read_text()
    header = (
        "| model | FID ↓ | precision | recall | modes (of 10) | samples/s | memory (MiB) | NFE | train (s) |"
    )
    assert header in readme
    rows = readme.split(header)[1].split("\n\n")[0].strip().splitlines()[1:]
    labels = {"eta = 1": "ddim[eta=1,steps=100]", "100 steps": "ddim[steps=100]", "50 steps": "ddim"}
    labels |= {"20 steps": "ddim[steps=20]", "10 steps": "ddim[steps=10]"}
    columns = [
        "fid",
        "precision",
        "recall",
        "modes_covered",
        "samples_per_s",
        "peak_memory_mb",
        "nfe",
        "train_s",
    ]
    seen = set()
    for row in rows:
        name, *cells = (c.strip() for c in row.strip("|").split("|"))
        label = next((v for k, v in labels.items() if k in name), name.split("`")[1])
        seen.add(label)
        for column, cell in zip(columns, cells, strict=True):
            m = re.fullmatch(r"\**([\d.]+)([kM]?)(?: ± ([\d.]+))?\**", cell)  # bold: the best
            if m is None:  # no number of its own; any other cell is a number this test must read
                assert cell in ("-", "(ddpm's)"), (label, column, cell)
                continue
            scale = {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]
            for text, key in ((m.group(1), column), (m.group(3), f"{column}_std")):
                if text is not None:  # the board's value, rounded to the digits shown
                    last = 10.0 ** -len(text.partition(".")[2]) * scale
                    assert abs(float(text) * scale - board.loc[label, key]) <= last / 2 + 1e-9, (label, key)
    assert seen == set(board.index)


def test_the_readme_conditional_table_is_the_published_board():
    """The README's class-conditional table is copied by hand from
    ``leaderboards/conditional/digits.csv``, as the digits table is from its board."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    board = pd.read_csv(root / "leaderboards/conditional/digits.csv").set_index("label")
    readme = (root / "README.md").read_text()
    header = "| model | FID | intra-FID | class accuracy | CAS | NFE | samples/s |"
    assert header in readme
    rows = readme.split(header)[1].split("\n\n")[0].strip().splitlines()[1:]
    columns = ["fid", "intra_fid", "class_accuracy", "cas", "nfe", "samples_per_s"]
    seen = set()
    for row in rows:
        name, *cells = (c.strip() for c in row.strip("|").split("|"))
        model = name.split("`")[1]
        w = re.search(r"w = ([\d.]+)", name)
        default = {"ddpm-cond": "0.1", "ddim-cond": "0.1"}.get(model)
        label = model if w is None or w.group(1) == default else f"{model}[guidance={w.group(1)}]"
        seen.add(label)
        for column, cell in zip(columns, cells, strict=True):
            m = re.fullmatch(r"\**([\d.]+)(?: ± ([\d.]+))?\**", cell)  # bold: the best
            if m is None:  # no number: a column the row's model has none of, or not shown
                assert cell == "", (label, column, cell)
                continue
            for text, key in ((m.group(1), column), (m.group(2), f"{column}_std")):
                if text is not None:  # the board's value, rounded to the digits shown
                    last = 10.0 ** -len(text.partition(".")[2])
                    assert abs(float(text) - board.loc[label, key]) <= last / 2 + 1e-9, (label, key)
    assert seen == set(board.index)


def test_the_published_digits_board_uses_the_shipped_classifier(tmp_path):
    """Every machine extracts digits features with the shipped classifier, so a user's digits FIDs
    share the board's protocol only while the board was scored with those weights: weights remade
    without regenerating the board would leave every published row in a protocol nobody can rerun."""
    from pathlib import Path

    from genbench.data.digits import Digits
    from genbench.features.classifier import Classifier

    root = Path(__file__).resolve().parent.parent
    board = pd.read_csv(root / "leaderboards/digits.csv")
    shipped = Classifier(Digits(cache_dir=tmp_path), cache_dir=tmp_path).fingerprint()
    assert set(board["features_fingerprint"]) == {shipped}


@pytest.mark.parametrize("dataset", ["digits", "ring8", "grid25", "conditional/digits"])
def test_the_published_boards_are_scored_by_the_metrics_genbench_has_now(dataset):
    """A metric whose version went up (PRDC 2 compares tied distances exactly) makes the published
    rows a protocol no user can rerun: each board must be regenerated with the version bump."""
    import json
    from pathlib import Path

    from genbench import registry

    board = pd.read_csv(Path(__file__).resolve().parent.parent / f"leaderboards/{dataset}.csv")
    for label, text in zip(board["label"], board["metric_versions"], strict=True):
        for metric, version in json.loads(text).items():
            assert version == registry.metrics.get(metric).version, (label, metric)


def test_the_readme_2d_table_is_the_published_boards():
    """The README's ring8/grid25 table is copied by hand from ``leaderboards/ring8.csv`` and
    ``grid25.csv``: every number must be the boards', to the digits shown, spreads included."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    boards = {d: pd.read_csv(root / f"leaderboards/{d}.csv").set_index("label") for d in ("ring8", "grid25")}
    readme = (root / "README.md").read_text()
    header = (
        "| model | ring8 modes (of 8) | ring8 high quality | grid25 modes (of 25) | grid25 high quality "
        "| early generator gradient (ring8 / grid25) |"
    )
    assert header in readme
    rows = readme.split(header)[1].split("\n\n")[0].strip().splitlines()[1:]
    columns = [("ring8", "modes_covered"), ("ring8", "high_quality"), ("grid25", "modes_covered")]
    columns += [("grid25", "high_quality"), (("ring8", "grid25"), "grad_norm_g_early")]
    seen, checked = set(), 0
    for row in rows:
        name, *cells = (c.strip() for c in row.strip("|").split("|"))
        label = name.split("`")[1]
        seen.add(label)
        for (datasets, column), cell in zip(columns, cells, strict=True):
            if isinstance(datasets, tuple):  # "1.9 ± 0.37 / 1.8 ± 0.23", or empty for both
                parts = cell.split(" / ") if cell else [""] * len(datasets)
            else:
                parts = [cell]
            for dataset, part in zip(
                datasets if isinstance(datasets, tuple) else (datasets,), parts, strict=True
            ):
                row_values = boards[dataset].loc[label]
                if not part:
                    assert pd.isna(row_values[column]), (label, dataset, column)
                    continue
                m = re.fullmatch(r"\**([\d.]+)(?: ± ([\d.]+))?\**", part)
                assert m is not None, part
                for text, key in ((m.group(1), column), (m.group(2), f"{column}_std")):
                    if text is None:  # a cell without its spread: only where there is no spread
                        assert pd.isna(row_values[key]), (label, dataset, key)
                        continue
                    last = 10.0 ** -len(text.partition(".")[2])
                    assert abs(float(text) - row_values[key]) <= last / 2 + 1e-9, (label, dataset, key)
                    checked += 1
    assert seen == {"ddpm", "ddim", "gan-sat", "gan-ns", "vae", "gaussian"} and checked > 40


def test_markdown_cells_are_written_as_formatted_not_reparsed_as_numbers():
    """tabulate's number parsing re-read the cells genbench had formatted: a model evaluated as
    ``--name 007`` showed as 7, and a one-seed column (no "±" in it) was printed in %g, 11940180
    as 1.19402e+07, though fmt() writes such numbers without an exponent."""
    _, md = board([run_result("007", 0, 2.5, metrics={"samples_per_s": 11940180.0})])
    rows = [ln for ln in md.splitlines() if "| 007 " in ln]
    assert len(rows) == 2 and "11940180" in rows[1] and "e+07" not in md, md  # quality, then cost
    assert "|-------:|:--------" in md  # rank right-aligned, names left, as before


def test_fid_against_speed_shows_a_zero_fid_and_keeps_grey_for_flagged_rows(tmp_path, monkeypatch):
    """On a log axis the copy control's FID of 0 was not drawn, though the title promises its grey
    cross; and the 8th unflagged row took matplotlib's grey (C7), the colour that marks flags."""
    import matplotlib.colors as mcolors

    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = [result("copy", 0, 0.0, flags=["memorized"], samples_per_s=1e6)]
    rs += [result(f"m{i}", 0, 10.0 + i, samples_per_s=100.0 + i) for i in range(9)]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    ax = made[0].axes[0]
    points = {(c.lines[0].get_ydata()[0], mcolors.to_hex(c.lines[0].get_color())) for c in ax.containers}
    grey = mcolors.to_hex("gray")
    assert (0.0, grey) in points and ax.get_yscale() == "symlog"
    assert sum(colour == grey for _, colour in points) == 1  # the flagged row alone
    assert mcolors.to_hex("C7") not in {colour for _, colour in points}


def test_fid_against_speed_gives_each_of_a_dozen_rows_its_own_colour_and_marker(tmp_path, monkeypatch):
    """The colours (9, matplotlib's grey kept for flagged rows) repeated from the 10th row on: the
    conditional board's ``ddim-cond[guidance=3]`` was drawn as ``ddpm-cond``'s orange dot."""
    import matplotlib.colors as mcolors

    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = [result(f"m{i:02d}", 0, 10.0 + i, samples_per_s=100.0 + i) for i in range(12)]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    styles = [
        (mcolors.to_hex(c.lines[0].get_color()), c.lines[0].get_marker()) for c in made[0].axes[0].containers
    ]
    assert len(styles) == 12 and len(set(styles)) == 12, styles
    assert all(marker != "x" for _, marker in styles)  # the cross marks flagged rows alone


def test_fid_against_speed_draws_a_numerically_zero_fid_as_zero(tmp_path, monkeypatch):
    """The conditional copy control's FID came out of the matrix square root as 1e-12, not 0: the
    log axis ran down to 1e-12 and squeezed every model's FID into the top sixth of the figure."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = [result("copy-cond", 0, 3e-12, flags=["memorized"], samples_per_s=1e6)]
    rs += [result(f"m{i}", 0, fid, samples_per_s=10.0 * (i + 1)) for i, fid in enumerate((4.6, 8.1, 56.0))]
    agg = aggregate(results_frame(rs))
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    ax = made[-1].axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] < 0 < 1 <= ax.get_ylim()[1]
    assert "linear below 1" in ax.get_ylabel()
    # a model's small FID is no copy: a board whose best row scores 0.01 keeps its log axis
    rs[0] = result("good", 0, 0.01, samples_per_s=1e6)
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid2.png").is_file()
    assert made[-1].axes[0].get_yscale() == "log"


def test_the_ddim_step_curve_is_drawn_in_the_protocol_its_rows_ran_in(tmp_path):
    """A DDIM sweep at --samples 50 beside a board at full size: the figures were drawn from the
    board's most-run protocol, which held no DDIM row, and the curve was left out without a word."""
    from genbench.reporting import write_report

    for model, seed in (("gan", 0), ("gan", 1), ("vae", 0), ("vae", 1)):
        r = result(model, seed, 9.0 + seed)
        r.dataset = "ring8"
        r.write(tmp_path / "runs")
    for steps, fid in ((10, 5.0), (20, 4.0)):
        r = result("ddim", 0, fid, variant=f"steps={steps}")
        r.dataset, r.protocol["num_samples"] = "ring8", 50
        r.write(tmp_path / "runs")
    md = write_report(tmp_path / "runs", tmp_path / "boards")["ring8"]
    assert "[DDIM step curve (N=50" in md and (tmp_path / "boards/ring8/ddim_step_curve.png").is_file()


def test_ddim_seeds_sampled_from_ddpms_of_two_configs_are_separate_rows(tmp_path, monkeypatch):
    """A DDIM result recorded its weights owner's name and --set overrides only: after the DDPM's
    config file changed, the DDPM seeds were split by config but the DDIM seeds sampled from those
    two networks were averaged into one row."""
    import genbench
    from baselines.ddpm import DDPM
    from genbench.config import RunConfig
    from genbench.reporting import write_report

    def run(seed):
        genbench.run(
            RunConfig(
                models=["ddpm", "ddim"],
                dataset="ring8",
                seeds=[seed],
                samples=100,
                metrics=["fid"],
                overrides=["ddpm.train_steps=5", "ddim.steps=5"],
                out=tmp_path / "runs",
                cache_dir=tmp_path / "cache",
                device="cpu",
                figures=False,
                progress=False,
            )
        )

    run(0)
    defaults = DDPM.dataset_defaults
    monkeypatch.setattr(
        DDPM, "dataset_defaults", classmethod(lambda cls, d: {**defaults(d), "mlp_hidden": 32})
    )
    run(1)
    write_report(tmp_path / "runs", tmp_path / "boards")
    board = pd.read_csv(tmp_path / "boards/ring8.csv")
    for model in ("ddpm", "ddim"):
        rows = board[board["model"] == model]
        assert sorted(rows["seeds"].astype(str)) == ["0", "1"], rows[["label", "seeds"]]


def test_figures_tell_rows_split_by_config_apart(tmp_path, monkeypatch):
    """Seeds trained under two configs are two rows: the FID-vs-speed figure labelled both points
    "ddpm", and the DDIM step curve kept one of the two rows at each step count (and one DDPM line)."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = []
    for seed, dropout in ((0, 0.1), (1, 0.0)):
        for model, variant, fid in (
            ("ddpm", "", 10.0),
            ("ddim", "steps=10", 30.0),
            ("ddim", "steps=50", 20.0),
        ):
            nfe = 1000.0 if model == "ddpm" else float(variant.removeprefix("steps="))
            r = result(model, seed, fid + seed, variant=variant, samples_per_s=100.0 / (1 + seed), nfe=nfe)
            r.config, r.training = {"dropout": dropout}, {"model_version": 1, "amp": False}
            rs.append(r)
    agg = aggregate(results_frame(rs))
    tags = sorted(set(agg["config_tag"]))
    assert len(tags) == 2 and all(t.startswith("config ") for t in tags)

    assert board_figures.fid_vs_throughput(agg[agg["variant"] == ""], tmp_path / "fid.png").is_file()
    assert sorted(t.get_text() for t in made[-1].axes[0].texts) == [f"ddpm ({t})" for t in tags]

    assert board_figures.ddim_step_curve(agg, tmp_path / "ddim.png").is_file()
    ax = made[-1].axes[0]
    curves = {c.get_label(): list(c.lines[0].get_ydata()) for c in ax.containers}
    ddim = agg[agg["model"] == "ddim"].sort_values("variant")  # steps=10, then steps=50
    assert curves == {f"DDIM (eta=0), {t}": list(ddim.loc[ddim["config_tag"] == t, "fid"]) for t in tags}
    assert sorted(curves.values()) == [[30.0, 20.0], [31.0, 21.0]]  # each seed's own curve
    ddpm_lines = sorted(ln.get_label() for ln in ax.lines if ln.get_label().startswith("DDPM"))
    assert ddpm_lines == [f"DDPM, 1000 steps, {t}" for t in tags]


def test_the_ddim_step_curve_draws_a_sweep_of_each_ddpm_it_samples(tmp_path, monkeypatch):
    """`--models ddim,ddpm --set ddim.steps=10,20 --set ddpm.train_steps=30,60` names its rows
    ddim[steps=10,ddpm.train_steps=30] and ddpm[train_steps=30]: the curve read only variants that
    were exactly "steps=N", so such a sweep had no DDIM step curve at all, without a word. Each
    DDPM's sweep is a curve of its own, beside the line of the DDPM it samples."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = []
    for train, base in (("30", 100.0), ("60", 50.0)):
        rs.append(result("ddpm", 0, base - 10, variant=f"train_steps={train}", nfe=1000.0))
        for steps in (10, 20):
            rs.append(result("ddim", 0, base - steps, variant=f"steps={steps},ddpm.train_steps={train}"))
    rs.append(result("ddim", 0, 7.0, variant="eta=1,steps=100"))  # one point: no curve
    agg = aggregate(results_frame(rs))
    assert board_figures.ddim_step_curve(agg, tmp_path / "ddim.png").is_file()
    ax = made[-1].axes[0]
    curves = {c.get_label(): list(c.lines[0].get_ydata()) for c in ax.containers}
    assert curves == {
        "DDIM (eta=0), ddpm.train_steps=30": [90.0, 80.0],
        "DDIM (eta=0), ddpm.train_steps=60": [40.0, 30.0],
    }
    lines = {ln.get_label(): ln.get_ydata()[0] for ln in ax.lines if ln.get_label().startswith("DDPM")}
    assert lines == {"DDPM[train_steps=30], 1000 steps": 90.0, "DDPM[train_steps=60], 1000 steps": 40.0}


def test_fid_against_speed_marks_a_row_that_lost_seeds_as_its_table_does(tmp_path, monkeypatch):
    """A seed that failed (out of memory) carries no flag: the row of the seeds that remained was a
    coloured point named "gan", as a sound model, where the table's flags say **failed** (seed 2 of
    3 without samples). It is grey now, and names the outcome and the seed, as a diverged one is."""
    import matplotlib.colors as mcolors

    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = [result("gan", s, 5.0 + s, samples_per_s=10.0) for s in (0, 1)]
    rs += [result("gan", 2, 0.0, status="failed"), result("vae", 0, 9.0, samples_per_s=20.0)]
    rs += [result("ddpm", s, 3.0, samples_per_s=1.0) for s in (0, 1)]
    rs += [result("ddpm", 2, 0.0, status="diverged", flags=["diverged"])]
    frame = results_frame(rs)
    agg = aggregate(frame)
    md = leaderboard_markdown(frame, agg, "toy", {}, {})
    assert "**failed** (seed 2 of 3 without samples" in md  # the table's word for it
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    ax = made[-1].axes[0]
    assert sorted(t.get_text() for t in ax.texts) == [
        "ddpm (diverged; no samples from seed 2)",
        "gan (failed; no samples from seed 2)",
        "vae",
    ]
    colours = {c.lines[0].get_ydata()[0]: mcolors.to_hex(c.lines[0].get_color()) for c in ax.containers}
    assert colours[5.5] == colours[3.0] == mcolors.to_hex("gray") != colours[9.0]


def test_the_figures_name_their_protocol_and_what_their_error_bars_are(tmp_path, monkeypatch):
    """A figure's PNG is read apart from its board: FID against samples/s and the DDIM step curve
    said nothing of N, the split, the features, the seeds, nor which spread their error bars drew;
    nor of FID's options, which the board's caption names (clean-fid's backend gives other FIDs)."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])

    def said(make, rs) -> str:
        assert make(aggregate(results_frame(rs)), tmp_path / "fig.png").is_file()
        return " ".join(t.get_text() for t in made[-1].texts).replace("\n", " ")

    speed = {"samples_per_s": 10.0}
    rs = [run_result(m, s, 5.0 + s, metrics=speed) for m in ("vae", "gan") for s in (0, 1)]
    assert said(board_figures.fid_vs_throughput, rs) == (
        "N = 200 samples per model and seed vs the train split; classifier features; "
        "fid.backend=torch-fidelity; seeds 0, 1; "
        "error bars: ± std (sample std, n - 1) over seeds; samples/s timed in batches of 200"
    )
    rs = [
        run_result(m, s, 5.0 + s, metrics=speed, fid_backend="clean-fid")
        for m in ("vae", "gan")
        for s in (0, 1)
    ]
    assert "; classifier features; fid.backend=clean-fid; seeds 0, 1; " in said(
        board_figures.fid_vs_throughput, rs
    )
    rs = []
    for steps in (10, 20):
        r = run_result("ddim", 0, 30.0 - steps, num_samples=500, metrics=speed)
        r.variant = f"steps={steps}"
        rs.append(r)
    assert said(board_figures.ddim_step_curve, rs) == (
        "N = 500 samples per model and seed vs the train split; classifier features; "
        "fid.backend=torch-fidelity; seed 0; one seed, so no error bars; samples/s timed in batches of 500"
    )


def test_the_run_figures_name_the_seed_they_show(tmp_path):
    """A sample grid (and a nearest-neighbour grid) is one run's, the label's lowest seed: its link
    read "copy: samples", as if it showed the row's seeds, and beside a label split by protocol
    (copy at N=200 on seed 1, copy (N=100) on seed 2) nothing said which row it was drawn from."""
    from genbench.row_figures import copy_run_figures

    out, dest = tmp_path / "runs", tmp_path / "boards" / "toy"
    dest.mkdir(parents=True)
    rs = []
    for seed in (2, 1):
        r = result("copy", seed, 0.0)
        src = out / "toy" / "figures" / f"copy-seed{seed}" / "samples.png"
        src.parent.mkdir(parents=True)
        src.write_bytes(f"seed {seed}".encode())
        r.artifacts = {"samples": str(src)}
        rs.append(r)
    assert copy_run_figures(rs, out, dest) == {"copy: samples (seed 1)": "toy/copy-samples.png"}
    assert (dest / "copy-samples.png").read_bytes() == b"seed 1"


def test_the_ddim_step_curve_labels_only_the_step_counts_it_sampled(tmp_path, monkeypatch):
    """A sweep within one decade (steps 5 and 10) had its log axis label the minor ticks too:
    "6x10^0" to "9x10^0" between 5 and 10, step counts that were never sampled."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    agg = ddim_sweep(steps5={"fid": 9.0}, steps10={"fid": 5.0})
    assert board_figures.ddim_step_curve(agg, tmp_path / "ddim.png").is_file()
    made[-1].canvas.draw()  # tick labels are made when drawn
    ax = made[-1].axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text() and t.get_visible()]
    assert labels == ["5", "10"]


def test_the_ddim_step_curve_marks_a_point_whose_row_lost_seeds(tmp_path, monkeypatch):
    """A step count whose seed 2 failed (out of memory) is a row over seeds 0 and 1, which its table
    marks **failed** and the FID-against-samples/s figure greys: the step curve drew it as one more
    sound point, and the DDPM line of a DDPM that diverged on a seed as a sound reference."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = [result("ddim", s, 9.0, variant="steps=10", nfe=10.0) for s in (0, 1, 2)]
    rs += [result("ddim", s, 5.0 + s, variant="steps=20", nfe=20.0) for s in (0, 1)]
    rs += [result("ddim", 2, 0.0, variant="steps=20", status="failed")]
    rs += [result("ddpm", s, 4.0, nfe=1000.0) for s in (0, 1)]
    rs += [result("ddpm", 2, 0.0, status="diverged", flags=["diverged"])]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    ax = made[-1].axes[0]
    marked = [(t.get_text(), t.xy) for t in ax.texts]
    assert marked == [("(failed; no samples from seed 2)", (20, 5.5))]  # steps=10 is sound: no mark
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "DDPM, 1000 steps (diverged; no samples from seed 2)" in legend
    assert sum("grey ×" in text for text in legend) == 1


def test_the_figures_mark_an_fid_over_fewer_of_its_rows_seeds_as_the_table_does(tmp_path, monkeypatch):
    """FID failed for seed 2 of a row of three (its cell reads "5.50 ± 0.71 †", explained under the
    table): the FID-against-samples/s figure and the DDIM step curve drew the mean of seeds 0 and 1
    as the row's, unmarked. Each names it now, and says beneath what † means."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])

    def partial(model, variant="", speed=10.0):
        rs = [result(model, s, 5.0 + s, variant=variant, samples_per_s=speed) for s in (0, 1, 2)]
        del rs[2].metrics["fid"]
        rs[2].metric_errors = {"fid": "CUDA out of memory"}
        return rs

    rs = partial("vae") + [result("gan", s, 9.0, samples_per_s=20.0) for s in (0, 1, 2)]
    frame = results_frame(rs)
    agg = aggregate(frame)
    assert "5.50 ± 0.71 †" in leaderboard_markdown(frame, agg, "toy", {}, {})  # the table's mark
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    assert sorted(t.get_text() for t in made[-1].axes[0].texts) == ["gan", "vae († FID from 2 of 3 seeds)"]
    beneath = " ".join(t.get_text() for t in made[-1].texts).replace("\n", " ")
    assert "†: a value over fewer of its row's seeds" in beneath

    rs = partial("ddim", "steps=10") + [result("ddim", s, 3.0, variant="steps=20") for s in (0, 1, 2)]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    texts = {t.get_text(): t.xy for ax in made[-1].axes for t in ax.texts}
    assert texts == {"(† FID from 2 of 3 seeds)": (10, 5.5)}
    assert "†: a value over fewer" in " ".join(t.get_text() for t in made[-1].texts).replace("\n", " ")


def test_a_plugin_metric_declaring_fid_is_refused_and_fid_keeps_its_arrow(monkeypatch):
    """A plugin metric whose ``higher_is_better`` says ``fid: True`` (it cannot write ``fid``: the
    built-in owns it in a run) is refused at registration, in one line naming genbench's metric, and
    the board's FID stays ranked lower-is-better."""
    from genbench import metric_columns, registry
    from genbench.errors import RegistrationError
    from genbench.metrics.base import Metric

    class Backwards(Metric):
        higher_is_better = {"fid": True, "backwards_score": True}

        def compute(self, ctx):  # never called: only its declaration is read
            raise AssertionError

    registry.metrics.discover()
    monkeypatch.setattr(registry.metrics, "_entries", dict(registry.metrics._entries))
    with pytest.raises(
        RegistrationError, match=r"metric 'aaa-backwards' declares value names genbench's own"
    ):
        registry.metrics.add("aaa-backwards", Backwards, source="genbench-test-plugin")
    assert "aaa-backwards" not in registry.metrics
    metric_columns._declared.cache_clear()  # a cache of each name's declaration
    agg = pd.DataFrame({"metric_versions": [json.dumps({"aaa-backwards": 1, "fid": 1})]})
    try:
        directions = metric_columns.column_directions(agg)
    finally:
        metric_columns._declared.cache_clear()
    assert directions["fid"] is False


def test_the_caption_names_how_the_conditional_rows_labels_were_drawn():
    """A class-conditional row's numbers depend on the labels it sampled for (stratified ones give
    every class its share, ADM's uniform draws do not), recorded in protocol.sample_labels, which the
    board named nowhere (markdown.protocol_caption). An unconditional board's caption and CSV are as
    before (no clause, no column)."""
    plain = [run_result("copy", s, 1.0) for s in (0, 1)]
    drawn = "stratified to the train split's class proportions, shuffled"
    cond = [run_result("copy-cond", s, 0.5) for s in (0, 1)]
    for r in cond:
        r.protocol["sample_labels"] = {"classes": 10, "counts": [20] * 10, "drawn": drawn, "seed": r.seed}
    adm = run_result("adm", 0, 2.0)
    adm.protocol["sample_labels"] = {
        "classes": 10,
        "counts": [20] * 10,
        "drawn": "given with the samples (arr_1)",
    }
    agg, md = board(plain + cond + [adm])
    caption = next(ln for ln in md.splitlines() if ln.startswith("Protocol:"))
    assert caption.endswith(
        f"The class-conditional rows' labels: `copy-cond`: {drawn}; `adm`: given with the samples (arr_1)."
    )
    _, md = board(plain + cond)  # one way: said once
    assert f"kid.subsets=100. The class-conditional rows' labels: {drawn}." in md
    assert "Rows differ" not in caption  # one protocol: copy is ranked beside them
    assert list(to_csv_frame(agg).set_index("model")["sample_labels"].fillna("")) == [
        "given with the samples (arr_1)" if m == "adm" else drawn if m == "copy-cond" else ""
        for m in to_csv_frame(agg)["model"]
    ]
    agg, md = board(plain)
    assert "class-conditional" not in md and "sample_labels" not in to_csv_frame(agg)


def test_the_figures_name_a_point_some_of_whose_seeds_a_later_rerun_failed_to_redo(tmp_path, monkeypatch):
    """A later rerun of seed 1 failed (seed1.failed.json beside seed1.json): the table's flags say so
    and its values are the earlier run's, but both figures drew the point as current, unmarked
    (figure_notes.rerun_mark). Not a flag: the point keeps its colour, and no † note is added."""
    import matplotlib.colors as mcolors

    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])
    rs = [result("ddim", s, 9.0, variant="steps=10", nfe=10.0, samples_per_s=50.0) for s in (0, 1)]
    rs += [result("ddim", s, 5.0, variant="steps=20", nfe=20.0, samples_per_s=25.0) for s in (0, 1)]
    rs += [result("ddpm", s, 4.0, nfe=1000.0, samples_per_s=1.0) for s in (0, 1)]
    for r in (rs[3], rs[4], rs[5]):  # ddim[steps=20] seed 1, ddpm seeds 0 and 1
        r.__dict__["_failed_rerun"] = "CUDA out of memory"  # as load_result sets it
    agg = aggregate(results_frame(rs))
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    ax = made[-1].axes[0]
    assert sorted(t.get_text() for t in ax.texts) == [
        "ddim[steps=10]",
        "ddim[steps=20] (a later rerun of seed 1 failed)",
        "ddpm (a later rerun of seeds 0, 1 failed)",
    ]
    assert all(mcolors.to_hex(c.lines[0].get_color()) != "#808080" for c in ax.containers)
    assert "†" not in made[-1].texts[-1].get_text()
    assert board_figures.ddim_step_curve(agg, tmp_path / "ddim.png").is_file()
    ax = made[-1].axes[0]
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("(a later rerun of seed 1 failed)", (20, 5.0))]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "DDPM, 1000 steps (a later rerun of seeds 0, 1 failed)" in legend
    assert not any("grey ×" in text for text in legend) and "†" not in made[-1].texts[-1].get_text()


def test_the_board_says_what_rows_ran_at_where_their_brackets_name_no_value(tmp_path):
    """`ddim` beside `ddim[steps=100]` and `ddim-cond` beside `ddim-cond[guidance=0]`: the board named
    nowhere that plain `ddim` ran at 50 steps, nor that plain `ddim-cond` is guided (0.1)
    (default_values.default_values_line, in the preamble above the tables and each LaTeX caption)."""
    from genbench.latex import leaderboard_latex

    ddpm = {"model": "ddpm", "config": {"train_steps": 2000, "ch_mult": [1, 2]}, "overrides": {}}
    rs = []
    for seed in (0, 1):
        for variant, config in (
            ("", {"steps": 50, "eta": 0.0}),
            ("steps=100", {"steps": 100, "eta": 0.0}),
            ("eta=1,steps=100", {"steps": 100, "eta": 1.0}),
            ("ddpm.train_steps=500", {"steps": 50, "eta": 0.0}),
        ):
            r = result("ddim", seed, 3.0 + seed, variant=variant)
            wf = {**ddpm, "config": {**ddpm["config"], "train_steps": 500 if "train" in variant else 2000}}
            r.config = {**config, "weights_from": wf}
            rs.append(r)
        r = result("vae", seed, 9.0)  # no bracketed row: nothing to say
        r.config = {"latent": 8}
        rs.append(r)
    frame = results_frame(rs)
    agg = aggregate(frame)
    said = (
        "Rows without brackets, and bracketed rows for the fields their brackets leave out, ran at their "
        "config's values: `ddim` ddpm.train_steps=2000, eta=0, steps=50."
    )
    md = leaderboard_markdown(frame, agg, "toy", {}, {})
    assert f"\n\n{said}\n\n" in md
    tex = leaderboard_latex(frame, agg, "toy", {})
    assert tex.count("ddpm.train\\_steps=2000, eta=0, steps=50.") == tex.count(r"\begin{table}") > 0
    # a value the runs disagree on (seeds under two configs) is no default: left out, not guessed
    rs[0].config = {**rs[0].config, "eta": 0.5}
    frame = results_frame(rs)
    md = leaderboard_markdown(frame, aggregate(frame), "toy", {}, {})
    assert "config's values: `ddim` ddpm.train_steps=2000, steps=50." in md
    # a board without bracketed rows says nothing of it
    frame = results_frame([r for r in rs if r.model == "vae"])
    assert "config's values" not in leaderboard_markdown(frame, aggregate(frame), "toy", {}, {})


def test_fid_against_speed_labels_a_few_ticks_when_the_speeds_span_less_than_a_decade(tmp_path, monkeypatch):
    """Speeds of 1.58e6 to 1.72e6 samples/s: a log axis with no decade inside labelled each of its
    minor ticks, ten overlapping "1.6x10^6" labels (genbench.log_ticks)."""
    from genbench import board_figures

    made = []
    figure = board_figures._figure
    monkeypatch.setattr(board_figures, "_figure", lambda *a, **k: made.append(figure(*a, **k)) or made[-1])

    def labels(speeds) -> list[str]:
        rs = [
            result(m, s, f + s, samples_per_s=v)
            for m, f, v in zip("abc", (3.0, 5.0, 9.0), speeds, strict=True)
            for s in (0, 1)
        ]
        assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
        made[-1].canvas.draw()
        ax = made[-1].axes[0]
        assert ax.get_xscale() == "log"
        return [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text() and t.get_visible()]

    narrow = labels((1.58e6, 1.65e6, 1.72e6))
    assert 2 <= len(narrow) <= 6, narrow
    wide = labels((13.0, 263.0, 1.7e6))  # decades apart: matplotlib's own labels, as before
    assert any("10^{" in t for t in wide), wide


def test_a_rows_seeds_are_listed_in_number_order_not_in_the_order_read():
    """find_results lists seed10.json before seed2.json (by name): the row's seeds, and its seeds
    without samples, read in number order all the same ("2,10", not "10,2")."""
    rs = [
        result("m", 10, 3.0),
        result("m", 2, 1.0),
        result("m", 11, float("nan"), status="diverged", flags=["diverged"]),
        result("m", 3, float("nan"), status="diverged", flags=["diverged"]),
    ]
    row = aggregate(results_frame(rs)).iloc[0]
    assert row["seeds"] == "2,10"
    assert row["failed_seeds"] == "3,11"


def test_a_seed_scored_without_features_keeps_its_own_row_beside_two_extractors():
    """A run that read no features shares the dataset's one extractor's protocol; beside two it
    cannot say which, so it keeps a row of its own ("features=none"), never one picked at random."""

    def run(model, seed, features, **metrics):
        protocol = {"num_samples": 100, "reference_split": "train"}
        if features:
            protocol["features"] = {"name": features, "fingerprint": f"{features}-v1"}
        return Result(model=model, dataset="toy", seed=seed, protocol=protocol, metrics=metrics)

    rs = [
        run("copy", 0, None, memorization_rate=1.0),
        run("copy", 1, "raw", fid=0.5, memorization_rate=1.0),
        run("gaussian", 0, "classifier", fid=9.0, memorization_rate=0.0),
    ]
    agg = aggregate(results_frame(rs)).set_index("row_label")
    assert sorted(agg.index) == [
        "copy (features=none)",
        "copy (features=raw)",
        "gaussian (features=classifier)",
    ]
    assert agg.loc["copy (features=none)", "seeds"] == "0"
    assert agg.loc["copy (features=raw)", "seeds"] == "1"


def test_the_caption_names_the_options_of_a_metric_not_installed_here():
    """A metric whose plugin is not installed where the report runs declares no columns, so whether a
    row has its value cannot be told: its options change the numbers all the same, and are named."""

    def run(seed):
        r = run_result("ddpm", seed, 14.0, metrics={"kid": 0.5, "ghost_score": 0.25})
        r.protocol["metric_versions"] = {**r.protocol["metric_versions"], "ghost-metric": 1}
        r.protocol["metric_options"] = {**r.protocol["metric_options"], "ghost-metric": {"k": 3}}
        return r

    _, md = board([run(0), run(1)])
    caption = next(ln for ln in md.splitlines() if ln.startswith("Protocol:"))
    assert caption.endswith(
        "Metric options (`--metric-option`): fid.backend=torch-fidelity, ghost-metric.k=3, kid.subsets=100."
    ), caption


@pytest.mark.parametrize(
    "values, said",
    [
        ({"authpct": 90.0}, "with the **train** split whatever the reference split"),
        ({"ct": 4.7}, "with the **train** split whatever the reference split"),
        ({"vendi_ref": 6.0}, "`vendi_ref` the reference split's"),
        ({"mifid_d": 0.2}, "`mifid` is FID divided by `mifid_d`"),
        ({"class_accuracy_ref": 0.99}, "`class_accuracy_ref` is the same labeller's accuracy"),
        ({"cas_ref": 0.9}, "`cas_ref` is the same recipe trained on the train split"),
        # columns that share a sentence: said once
        ({"memorization_rate": 0.0, "authpct": 90.0, "ct": 4.7}, "with the **train** split whatever"),
        ({"vendi": 5.0, "vendi_ref": 6.0}, "`vendi_ref` the reference split's"),
    ],
)
def test_each_column_of_a_shared_caption_is_explained_alone_and_once_beside_the_others(values, said):
    """A column that shares its caption's sentence with others (authpct with memorization_rate, the
    reference ceilings with their metric) is explained on a board that shows it alone, and the
    sentence is said once however many of its columns are shown."""
    frame = results_frame([run_result("ddpm", 0, 14.0, metrics=values)])
    md = leaderboard_markdown(frame, aggregate(frame), "digits", {}, {})
    assert md.count(said) == 1, md


def test_rows_of_no_recorded_protocol_come_last_however_many_they_are():
    """Protocols are ordered by their ok runs, most first, but results that recorded none come after
    every recorded one, even when there are more of them: the board's first rows (and its figures,
    which draw the first protocol) were two hand-made results of unknown measurement."""

    def unrecorded(seed, fid):
        r = run_result("old", seed, fid)
        r.protocol = {}
        return r

    agg, _ = board([unrecorded(0, 1.0), unrecorded(1, 2.0), run_result("m", 0, 5.0)])
    assert list(agg["row_label"]) == ["m", "old (protocol not recorded)"]
    assert list(agg["rank"]) == [1, 1]  # each ranked within its own protocol


def test_a_board_whose_every_result_recorded_no_protocol_labels_no_row_by_it():
    """ "protocol not recorded" tells such rows from those of a recorded protocol; on a board of
    unrecorded results alone there is nothing to tell apart, and no row or caption says it."""

    def unrecorded(model, seed, fid):
        r = run_result(model, seed, fid)
        r.protocol = {}
        return r

    agg, md = board([unrecorded("m", 0, 1.0), unrecorded("m", 1, 2.0), unrecorded("g", 0, 5.0)])
    assert list(agg["row_label"]) == ["m", "g"]
    assert "protocol not recorded" not in md and "whether the protocol was recorded" not in md
