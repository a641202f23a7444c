"""The CIFAR-10 speed benchmark (benchmarks/cifar10_synthetic.py): its arguments, what its output
records, and that a CPU run says it is a smoke run; the metric memory benchmark runs each metric."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from bench_scripts import BENCHMARKS, load_script  # tests/ is on the path: pytest puts it there

SCRIPT = BENCHMARKS / "cifar10_synthetic.py"


@pytest.fixture
def bench():
    return load_script(SCRIPT)


def run_main(bench, monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *args])
    bench.main()


BAD = [
    ["--train-batch", "0"],  # trained at the config's batch of 128
    ["--train-batch", "-1"],
    ["--sample-batch", "0"],
    ["--fast-samples", "0"],
    ["--ddpm-samples", "-1"],
    ["--inception-images", "0"],
    ["--metric-n", "1"],
    ["--models", "bogus"],
    ["--models", "gaussian"],
    ["--models", "vae,ddim"],
    ["--device", "bogus"],
    ["--device", "meta"],
]
if not torch.cuda.is_available():
    BAD.append(["--device", "cuda"])


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a))
def test_bad_arguments_are_one_usage_line_before_anything_trains(bench, monkeypatch, capsys, tmp_path, args):
    def trained(*a, **k):
        raise AssertionError("trained before the arguments were checked")

    monkeypatch.setattr(bench, "time_training", trained)
    workdir = tmp_path / "work"
    with pytest.raises(SystemExit) as e:
        run_main(bench, monkeypatch, "--workdir", str(workdir), *args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cifar10_synthetic.py: error: "), err
    assert "Traceback" not in "\n".join(err)
    assert not workdir.exists()


def test_cpu_run_is_marked_smoke_and_records_command_and_versions(bench, monkeypatch, tmp_path):
    # the slow parts are stubbed: this checks what the report records, not the timings
    monkeypatch.setattr(
        bench, "time_inception", lambda n, b, d, w: {"images": n, "batch_size": b, "images_per_s": 1.0}
    )
    monkeypatch.setattr(bench, "time_metrics", lambda n, d: [])
    out = tmp_path / "b.json"
    args = ["--device", "cpu", "--models", "gan-ns", "--train-steps", "2", "--train-batch", "2"]
    args += ["--fast-samples", "2", "--sample-batch", "2", "--workdir", str(tmp_path), "--out", str(out)]
    run_main(bench, monkeypatch, *args)
    report = json.loads(out.read_text())
    assert report["smoke"] is True
    assert "--train-steps 2" in report["command"] and "cifar10_synthetic.py" in report["command"]
    assert report["arguments"]["train_steps"] == 2 and report["arguments"]["fast_samples"] == 2
    env = report["environment"]
    assert env["genbench"] and env["torch"] and env["git_commit"] != "" and env["cpu_threads"] >= 1
    md = out.with_suffix(".md").read_text()
    assert "CPU smoke run" in md and "not comparable with the GPU figures" in md


def test_markdown_of_a_gpu_report_does_not_say_smoke(bench):
    report = {
        "device": "cuda",
        "smoke": False,
        "device_name": "NVIDIA H200",
        "torch": "2",
        "training": [],
        "sampling": [],
        "inception": {"images": 1, "batch_size": 1, "images_per_s": 1.0},
        "metrics": [],
    }
    assert "smoke" not in bench.markdown(report)


def test_inception_reports_the_batch_it_ran(bench, tmp_path):
    # --batch 4, not 250: a batch from MIN_BATCH_ROWS (64) up pads each call of 3 images to 64 rows,
    # 128 Inception passes at 299 x 299 (40 s); below it, to the batch (8 passes)
    row = bench.time_inception(3, 4, torch.device("cpu"), tmp_path)
    assert row["images"] == 3 and row["batch_size"] == 3


def test_every_sampling_row_is_printed_as_it_is_timed(bench, monkeypatch, capsys, tmp_path):
    """A run stopped during DDIM-100 kept the DDPM and DDIM-50 rows only if they were printed."""
    import baselines.ddim

    monkeypatch.setattr(bench, "time_training", lambda name, *a, **k: (object(), {"model": name}))
    monkeypatch.setattr(baselines.ddim.DDIM, "from_trained", classmethod(lambda cls, m, c: object()))
    monkeypatch.setattr(bench, "time_sampling", lambda label, *a: {"sampler": label})
    monkeypatch.setattr(
        bench, "time_inception", lambda *a: {"images": 1, "batch_size": 1, "images_per_s": 1.0}
    )
    monkeypatch.setattr(bench, "time_metrics", lambda *a: [])
    monkeypatch.setattr(bench, "markdown", lambda report: "")
    run_main(
        bench,
        monkeypatch,
        "--device",
        "cpu",
        "--models",
        "ddpm",
        "--ddpm-samples",
        "1",
        "--workdir",
        str(tmp_path),
    )
    out = capsys.readouterr().out
    for label in ("ddpm (1000 steps)", "ddim (50 steps)", "ddim (100 steps)"):
        assert repr({"sampler": label}) in out


def test_the_metric_memory_benchmark_measures_every_metric_and_fails_on_a_failed_one(capsys):
    """benchmarks/metric_memory.py at a tiny size: a row with numbers per metric, exit 0; a metric
    whose subprocess fails (too few rows for PRDC's neighbours) is a failed row and a non-zero exit."""
    module = load_script(SCRIPT.parent / "metric_memory.py")
    assert module.main(["--n", "120", "--test", "40", "--dim", "6", "--metrics", "fid,prdc,modes"]) == 0
    rows = [ln.split("|")[1:-1] for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ")]
    assert [r[0].strip() for r in rows[1:]] == ["fid", "prdc", "modes"]
    assert all(float(cell) >= 0 for r in rows[1:] for cell in r[1:])
    assert module.main(["--n", "3", "--test", "2", "--dim", "6", "--metrics", "prdc"]) == 1
    assert "| prdc | failed:" in capsys.readouterr().out


def test_sampling_reports_the_batch_it_ran(bench):
    """Fewer samples than --sample-batch are drawn as one batch of that many: the row said the
    requested size beside the speed and peak memory of the smaller batch."""
    sizes = []

    class Model:
        nfe = 1

        def sample(self, n, *, generator):
            sizes.append(n)
            return torch.zeros(n, *bench.SPEC.shape)

    row = bench.time_sampling("m", Model(), 3, 256, torch.device("cpu"))
    assert sizes == [3, 3]  # the warm-up batch and the timed one
    assert row["samples"] == 3 and row["batch_size"] == 3


def test_the_feature_speed_benchmark_records_its_command_and_rates(monkeypatch, tmp_path, capsys):
    """benchmarks/feature_speed.py (docs/gpu.md's CPU extraction rates): a row per extractor, with the
    command that made it; an unknown extractor is a usage error before anything runs."""
    script = SCRIPT.with_name("feature_speed.py")
    monkeypatch.syspath_prepend(str(script.parent))  # as `python benchmarks/feature_speed.py` has it
    module = load_script(script)
    args = [str(script), "--images", "70", "--batch-size", "64", "--workdir", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", [*args, "--extractors", "classifier,bogus"])
    with pytest.raises(SystemExit):
        module.main()
    assert "unknown extractor bogus" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", [*args, "--extractors", "classifier", "--out", str(tmp_path / "r.json")])
    module.main()
    made = json.loads((tmp_path / "r.json").read_text())
    assert made["command"][-4:] == ["--extractors", "classifier", "--out", str(tmp_path / "r.json")]
    (row,) = made["rows"]
    assert (row["extractor"], row["images"], row["batch_size"]) == ("classifier", 70, 64)
    assert "| classifier |" in capsys.readouterr().out


def test_the_feature_speed_benchmark_has_a_clip_row(monkeypatch, tmp_path, capsys):
    """`--extractors clip`: the clip extractor's own extract on its random weights file (here a tiny
    tower of the same structure in place of ViT-L/14@336, which the script saves and loads)."""
    import genbench.features.clip as clip
    import genbench.features.clip_vit as clip_vit

    tiny = {"image_size": 336, "patch_size": 14, "width": 16, "layers": 1, "heads": 2, "mlp_width": 32}
    build = lambda: clip_vit.ClipVision(**tiny, projection_dim=8)  # noqa: E731
    monkeypatch.setattr(clip_vit, "clip_vit_large_14_336", build)
    monkeypatch.setattr(clip, "clip_vit_large_14_336", build)
    script = SCRIPT.with_name("feature_speed.py")
    monkeypatch.syspath_prepend(str(script.parent))
    module = load_script(script)
    out = tmp_path / "r.json"
    argv = [
        str(script),
        "--images",
        "3",
        "--batch-size",
        "2",
        "--workdir",
        str(tmp_path),
        "--extractors",
        "clip",
    ]
    monkeypatch.setattr(sys, "argv", [*argv, "--out", str(out)])
    module.main()
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["extractor"], row["images"], row["batch_size"]) == ("clip", 3, 2)
    assert "| clip |" in capsys.readouterr().out
