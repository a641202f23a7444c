"""Bad input to the CLI: one line naming the fix, exit 2, no traceback, nothing lost; and what Ctrl-C says
each command kept.
"""

from __future__ import annotations

import json
from typing import ClassVar

import cli_models  # noqa: F401 (registers the test-* models these tests name)
import numpy as np
import pytest
import torch
from cli_helpers import (
    eval_args,
    folder_and_samples,
    raw_eval_args,
    run_args,
    single_line_error,
)  # tests/ is on the path: pytest puts it there

from genbench import GenbenchError, registry
from genbench.features.raw import Raw
from genbench.metrics.base import Metric
from genbench.resolve import resolve_device
from genbench.results import find_results


def test_a_tilde_after_an_equals_sign_is_the_home_directory(cli, tmp_path, monkeypatch):
    """The shell leaves ``--data-dir=~/gb`` as typed: genbench made ./~/gb, and the error's "put the
    files into ~/gb/mnist" sent users to their home directory, where nothing was found."""
    from genbench.data import download

    def offline(url):
        raise OSError("offline")

    monkeypatch.setattr(download, "_open_url", offline)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    np.savez(tmp_path / "s.npz", samples=np.zeros((4, 1, 28, 28), np.uint8))
    args = ["eval", "--samples", str(tmp_path / "s.npz"), "--dataset", "mnist", "--no-progress"]
    line = single_line_error(cli(*args, "--data-dir=~/gb", "--out=~/runs", "--cache-dir=~/cache"))
    assert f"into {tmp_path / 'home/gb/mnist'} " in line, line
    assert not (tmp_path / "cwd/~").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--models", "ddmp"], "unknown model 'ddmp'; did you mean 'ddpm'"),
        (["--models", "copy,,gaussian"], "malformed model list"),
        (["--models", "copy", "--dataset", "digitz"], "did you mean 'digits'"),
        (["--models", "copy", "--seeds", "0,x"], "malformed seed list"),
        # torch's "Overflow when unpacking long long" with 45 lines of C++ frames, as a model's failure
        (["--models", "copy", "--samples", "99999999999999999999"], "--samples must be at most 2147483647"),
        # an empty seed item's hint said "names like a,b,c", which then fail as a malformed seed list
        (["--models", "copy", "--seeds", "0,,1"], "malformed seed list '0,,1'; use integers like 0,1,2"),
        (["--models", "copy", "--seeds", ""], "malformed seed list ''; use integers like 0,1,2"),
        # 2**64 failed inside every model, each reported as a plugin's bug (exit 1)
        (["--models", "copy", "--seeds", str(2**64)], "seeds must be integers from 0 to 2**32-1"),
        (["--models", "copy", "--seeds", "0,-1"], "seeds must be integers from 0 to 2**32-1"),
        # KID and IS seed numpy's RandomState (32 bits): they failed, recorded as a plugin's bug
        (["--models", "copy", "--seeds", str(2**32)], "seeds must be integers from 0 to 2**32-1"),
        (["--models", "copy", "--metrics", "fdi"], "did you mean 'fid'"),
        (["--models", "copy", "--features", "inceptoin"], "did you mean 'inception'"),
        (["--models", "copy", "--set", "ddim.steps"], "use MODEL.FIELD=VALUE"),
        (["--models", "copy", "--set", "ddim.steps=10"], "add ddim to --models"),
        (["--models", "copy", "--set", "gan.steps=10"], "add gan to --models"),  # as typed, not gan-ns
        (["--models", "ddim", "--set", "ddim.stepz=10"], "did you mean steps"),
        # the fields with their values and comments are a command away: the error now says which
        (
            ["--models", "ddpm", "--set", "ddpm.depth=3"],
            "(`genbench list models ddpm` shows each with its value)",
        ),
        (["--models", "ddim", "--set", "ddim.steps=ten"], "bad value 'ten' for ddim.steps"),
        # an empty sweep item failed as "bad value ''", or (a str field) set the field to ''
        (
            ["--models", "ddim", "--set", "ddim.steps=10,,20"],
            "malformed --set list '10,,20' in 'ddim.steps=10,,20'",
        ),
        (["--models", "ddpm", "--set", "ddpm.lr_schedule=cosine,"], "malformed --set list 'cosine,'"),
        # nan passes every range check (nan < 0 is False): ddim.eta=nan ran a garbled DDIM step silently
        (
            ["--models", "ddim", "--set", "ddim.eta=nan"],
            "bad value 'nan' for ddim.eta; expected a finite float",
        ),
        (
            ["--models", "ddpm", "--set", "ddpm.lr=inf"],
            "bad value 'inf' for ddpm.lr; expected a finite float",
        ),
        (["--models", "test-points-only", "--dataset", "digits"], "does not handle image data"),
        # values, not only types, are checked before any work: these trained DDPM, or ran copy, first
        (["--models", "copy,ddim", "--dataset", "ring8", "--set", "ddim.steps=0"], "ddim.steps must be >= 1"),
        (["--models", "ddim", "--dataset", "ring8", "--set", "ddim.steps=1001"], "exceeds the ddpm's 1000"),
        (["--models", "ddim", "--dataset", "ring8", "--set", "ddim.eta=-1"], "ddim.eta must be in [0, 1]"),
        # above 1 the step's eps coefficient sqrt(1 - abar_prev - sigma^2) was clamped to 0 silently
        (["--models", "ddim", "--dataset", "ring8", "--set", "ddim.eta=1.5"], "ddim.eta must be in [0, 1]"),
        (
            ["--models", "copy,vae", "--dataset", "ring8", "--set", "vae.lr=-1"],
            "vae.lr and vae.decoder_sigma",
        ),
        (
            ["--models", "copy,ddpm", "--dataset", "ring8", "--set", "ddpm.batch_size=0"],
            "batch_size must be >= 1",
        ),
        (["--models", "ddpm", "--dataset", "ring8", "--set", "ddpm.timesteps=0"], "timesteps must be >= 1"),
        (["--models", "ddpm", "--set", "ddpm.ch_mult=1:0"], "ddpm.ch_mult items must be >= 1, got 1:0"),
        # read as 1:2, digits' default, so the row claimed no change
        (["--models", "ddpm", "--set", "ddpm.ch_mult=1::2"], "malformed tuple '1::2' for ddpm.ch_mult"),
        (["--models", "ddpm", "--set", "ddpm.ch_mult=:1:2"], "malformed tuple ':1:2' for ddpm.ch_mult"),
        (["--models", "ddpm", "--set", "ddpm.ch=2"], "ddpm.ch must be >= 4 for images"),
        # digits' maps are 8 and 4 wide: attention at 3 was never added, yet trained its own checkpoint
        (
            ["--models", "ddim", "--set", "ddpm.attn_resolutions=3"],
            "ddpm.attn_resolutions 3 is no feature-map width of this U-Net on 8x8 images (its widths are 8, 4)",
        ),
        # a GAN's errors name the model by its registered name, the alias's too
        (
            ["--models", "gan-sat", "--dataset", "ring8", "--set", "gan-sat.steps=0"],
            "gan-sat.steps must be >= 1",
        ),
        (
            ["--models", "gan", "--dataset", "ring8", "--set", "gan.lr_g=-1"],
            "gan-ns.lr_g and gan-ns.lr_d must",
        ),
        # Adam refused them inside fit(), after the models before it trained, blamed on the plugin
        (
            ["--models", "copy,gan-ns", "--dataset", "ring8", "--set", "gan-ns.beta2=1"],
            "gan-ns.beta1 and gan-ns.beta2 must be in [0, 1), got 0.5 and 1.0",
        ),
        (["--models", "gan-sat", "--set", "gan-sat.beta1=-0.1"], "gan-sat.beta1 and gan-sat.beta2 must be"),
        # the same networks as min_res=1, trained again under a checkpoint key of their own
        (["--models", "gan-ns", "--set", "gan-ns.min_res=0"], "gan-ns.min_res must be >= 1, got 0"),
        (["--models", "vae", "--set", "vae.min_res=-2"], "vae.min_res must be >= 1, got -2"),
        (["--models", "vae", "--set", "vae.log_every=0"], "vae.log_every must be >= 1, got 0"),
        (["--models", "gan-sat", "--set", "gan-sat.log_every=-1"], "gan-sat.log_every must be >= 1, got -1"),
        (
            ["--models", "test-checked", "--dataset", "ring8", "--set", "test-checked.steps=0"],
            "must be >= 1, got 0",
        ),
        (
            ["--models", "ddpm", "--dataset", "ring8", "--set", "ddpm.beta_end=2"],
            "0 < beta_start <= beta_end < 1",
        ),
        (["--models", "ddim", "--set", "ddpm.ch_mult=1:2:2:2:2"], "cannot downsample 8x8 images 4 times"),
        # commas sweep: this trained two one-level U-Nets (ch_mult=1 and ch_mult=2), not (1, 2, 2)
        (
            ["--models", "ddpm", "--dataset", "ring8", "--samples", "20", "--set", "ddpm.ch_mult=1,2,2"]
            + ["--set", "ddpm.train_steps=5", "--metrics", "fid"],
            "separate its items with ':' (ddpm.ch_mult=1:2:2)",
        ),
        (["--models", "copy", "--metric-option", "fid.backnd=clean-fid"], "did you mean backend"),
        (["--models", "copy", "--metric-option", "fid.backend=cleanfid"], "unknown backend 'cleanfid'"),
        (["--models", "copy", "--metric-option", "memorization.space=feature"], "unknown space 'feature'"),
        (["--models", "copy", "--metric-option", "is.splits=0"], "splits=0 must be an integer >= 1"),
        (["--models", "copy", "--metric-option", "kid.subset_size=none"], "subset_size='none' must be an"),
        (
            ["--models", "copy", "--metric-option", "kid.subsets=5", "--metric-option", "kid.subsets=10"],
            "--metric-option kid.subsets=5 and --metric-option kid.subsets=10 set the same option of 'kid'; "
            "give it once",
        ),
        # a metric named explicitly that cannot handle the data was left out without a word
        (
            ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "is,fid"],
            "metric 'is' does not apply to points data (ring8); drop it from --metrics",
        ),
        (
            ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
            + ["--metric-option", "is.splits=5"],
            "names metric 'is', which does not apply to points data (ring8); drop the option",
        ),
        # step % -5 == 0: a negative interval checkpointed every 5 steps
        (["--models", "copy", "--checkpoint-every", "-5"], "--checkpoint-every must be >= 0 (0 saves no"),
        (
            ["--models", "copy", "--checkpoint-minutes", "-1"],
            "--checkpoint-minutes must be a number of minutes >= 0",
        ),
        # nan never came due: it saved on steps only, silently
        (
            ["--models", "copy", "--checkpoint-minutes", "nan"],
            "--checkpoint-minutes must be a number of minutes >= 0",
        ),
        # --checkpoint-every 0 saves no resumable state: the minutes were ignored
        (
            ["--models", "copy", "--checkpoint-every", "0", "--checkpoint-minutes", "10"],
            "--checkpoint-minutes 10 saves nothing with --checkpoint-every 0, which saves no resumable "
            "checkpoints; pass --checkpoint-every N to save on time too",
        ),
        # the default's value given: compared with the default, an explicit 30 passed unsaid
        (
            ["--models", "copy", "--checkpoint-every", "0", "--checkpoint-minutes", "30"],
            "--checkpoint-minutes 30 saves nothing with --checkpoint-every 0",
        ),
        (["--models", "copy", "--device", "mps"], "device 'mps' is not supported"),
        (
            ["--models", "copy", "--device", "cuda:0"]
            if not torch.cuda.is_available()
            else ["--models", "nope"],
            "not available" if not torch.cuda.is_available() else "unknown model",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, tmp_path, cache_dir, args, expected):
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert expected in line
    assert not find_results(tmp_path / "runs")  # nothing was run


def test_options_given_under_a_metric_and_its_alias_are_refused(cli, tmp_path, cache_dir, monkeypatch):
    # a plugin metric's alias and its name both took options, and the last one silently won
    from genbench.registry import Entry

    registry.metrics.discover()
    alias = Entry(name="frechet", source="test", obj=registry.metrics.get("fid"), alias_of="fid")
    monkeypatch.setitem(registry.metrics._entries, "frechet", alias)
    args = ["--models", "copy", "--metrics", "fid", "--metric-option", "fid.backend=clean-fid"]
    args += ["--metric-option", "frechet.backend=torch-fidelity"]
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert "--metric-option fid.* and --metric-option frechet.* both set options of metric 'fid'" in line
    assert not find_results(tmp_path / "runs")


class UndeclaredRaw(Raw):
    """A plugin extractor without logits that does not say so (``gives_logits`` None, unknown)."""

    gives_logits = None

    def fingerprint(self) -> str:
        return "undeclared-raw"


def test_a_named_metric_that_does_not_apply_to_the_run_says_why_it_was_not_computed(
    cli, tmp_path, cache_dir, register
):
    """An extractor plugin that gives no logits without declaring it: `--metrics fid,is` wrote fid
    alone, without a word that the IS asked for was not computed (its applies_to said no, so its own
    message never showed). It warns now, with that message; the default metric set still leaves such
    a metric out quietly."""
    register(registry.features, "test-undeclared", UndeclaredRaw)
    args = ["--models", "copy", "--samples", "100", "--features", "test-undeclared", "--no-figures"]
    r = cli(*run_args(tmp_path / "named", cache_dir, *args, "--metrics", "fid,is"))
    assert r.exit_code == 0, r.output
    expected = "warning: copy seed 0: not computed: is: the feature extractor gives no logits"
    assert expected in r.stderr
    res = json.loads((tmp_path / "named/digits/copy/seed0.json").read_text())
    assert "fid" in res["metrics"] and "is" not in res["metrics"]

    np.savez(tmp_path / "mine.npz", samples=np.zeros((20, 8, 8), np.uint8))
    extra = ("--features", "test-undeclared", "--metrics", "fid,is", "--no-figures")
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "eval", cache_dir, *extra))
    assert "not computed: is: the feature extractor gives no logits" in r.stderr, r.output

    r = cli(*run_args(tmp_path / "default", cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert "not computed" not in r.stderr
    res = json.loads((tmp_path / "default/digits/copy/seed0.json").read_text())
    assert "is" not in res["metrics"] and "is" not in res["metric_errors"]


class _LogitsPlugin(Metric):
    """A plugin metric of logits that declares ``needs_logits`` and reads them without a check."""

    higher_is_better: ClassVar[dict[str, bool | None]] = {"test_logit_mean": True}
    needs_logits = True

    def compute(self, ctx):
        return {"test_logit_mean": float(ctx.sample_features.logits.mean())}  # None.mean(): its bug


def test_a_plugin_metric_declaring_needs_logits_is_left_out_where_the_features_give_none(
    cli, tmp_path, cache_dir, register
):
    """Its declaration is what the harness reads, as for is: in the default set under --features raw
    it was computed, failed on the None logits as its own bug (exit 1, its error on every row),
    though `genbench list features raw` said it does not run there (base Metric.applies_to now
    reads needs_logits); named under an extractor that does not declare its logits, it is said not
    computed with is's reason, not "does not apply"."""
    register(registry.metrics, "test-logits-plugin", _LogitsPlugin)
    args = ["--models", "copy", "--samples", "100", "--features", "raw", "--no-figures"]
    r = cli(*run_args(tmp_path / "default", cache_dir, *args))
    assert r.exit_code == 0, r.output  # was 1: the metric's AttributeError
    res = json.loads((tmp_path / "default/digits/copy/seed0.json").read_text())
    assert "test-logits-plugin" not in res["metric_errors"] and "fid" in res["metrics"]

    register(registry.features, "test-undeclared", UndeclaredRaw)
    args[args.index("raw")] = "test-undeclared"
    r = cli(*run_args(tmp_path / "named", cache_dir, *args, "--metrics", "fid,test-logits-plugin"))
    assert r.exit_code == 0, r.output
    expected = "not computed: test-logits-plugin: the feature extractor gives no logits; use one with"
    assert expected in r.stderr, r.output


@pytest.mark.parametrize(
    "metrics, expected",
    [
        (
            "fid,is,kid",
            "metric is needs logits, which --features raw does not give (no classifier head); drop it "
            "(--metrics fid,kid) or pass --features inception or classifier, which give them",
        ),
        # nothing left to keep: the features are the one fix
        (
            "is_inf,is",
            "metrics is_inf and is need logits, which --features raw does not give (no classifier head); "
            "pass --features inception or classifier, which give them",
        ),
    ],
)
def test_a_named_metric_of_logits_under_an_extractor_without_them_fails_before_any_work(
    cli, tmp_path, metrics, expected
):
    """`--metrics fid,is --features raw` (or dinov2) trained every model, sampled and extracted every
    feature (hours of ViT-L on a CPU) to end in "not computed: is" and exit 0: it fails now, in one
    line naming the whole --metrics value without it, before the VAE is trained (or loaded) or a
    sample scored."""
    cache = tmp_path / "cache"
    args = ["--models", "vae", "--samples", "100", "--features", "raw", "--metrics", metrics, "--no-figures"]
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache, *args)))
    assert line == f"error: {expected}", line
    assert not list((tmp_path / "runs").rglob("*.json")) and not (cache / "checkpoints").exists()

    np.savez(tmp_path / "mine.npz", samples=np.zeros((20, 8, 8), np.uint8))
    extra = ("--features", "raw", "--metrics", metrics, "--no-figures")
    line = single_line_error(cli(*eval_args(tmp_path / "mine.npz", tmp_path / "eval", cache, *extra)))
    assert line == f"error: {expected}", line
    assert not list((tmp_path / "eval").rglob("*.json"))


def test_the_logits_error_names_no_classifier_for_an_image_folder(cli, tmp_path):
    """An image folder has no class labels: "pass --features inception or classifier" sent the user
    to the classifier's own error ("needs class labels and 'ref' has none; use --features
    inception"). Inception alone is named now, the features that work."""
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    args = raw_eval_args(samples, folder, tmp_path / "runs", tmp_path / "cache", "--metrics", "fid,is")
    line = single_line_error(cli(*args, "--no-figures"))
    assert line.endswith("drop it (--metrics fid) or pass --features inception, which gives them"), line
    # the classifier is refused there, as the error no longer suggests it
    args[args.index("raw")] = "classifier"
    assert "needs class labels" in single_line_error(cli(*args, "--no-figures"))


@pytest.mark.parametrize("features", ["inception", "clean-inception"])
def test_the_offline_inception_error_names_no_classifier_for_an_image_folder(
    cli, tmp_path, monkeypatch, features
):
    """docs/commands.md's `genbench eval --samples gen/ --dataset real/` offline: the error's way to
    score without Inception named "--features classifier", whose own error on a folder (it has no
    classes) only says "use --features inception". Raw pixels alone are named there now; a dataset
    with classes still gets the classifier named."""
    from genbench.data import download
    from genbench.features import clean_inception, inception

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.delenv(inception.ENV, raising=False)
    monkeypatch.delenv(clean_inception.ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torch.hub's cache: none there
    monkeypatch.setattr(clean_inception, "CLEANFID_CACHE_DIRS", [tmp_path / "cleanfid"])
    monkeypatch.setattr(download, "_open_url", offline)
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    args = raw_eval_args(samples, folder, tmp_path / "runs", tmp_path / "cache", "--no-figures")
    args[args.index("raw")] = features
    line = single_line_error(cli(*args))
    assert "network is unreachable" in line and "--features raw ('ref' has no classes" in line, line
    assert "--features classifier (a CNN" not in line, line
    np.savez(samples, samples=np.full((8, 8, 8), 100, np.uint8))  # grey, as digits
    args[args.index(str(folder))] = "digits"
    assert "--features classifier (a CNN" in single_line_error(cli(*args))


def test_a_cuda_index_beyond_the_devices_fails_naming_the_valid_ones(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(
        GenbenchError, match=r"'cuda:5' requested but there are 2 CUDA devices; use cuda:0 to cuda:1"
    ):
        resolve_device("cuda:5")


def test_cuda_1_on_a_one_gpu_machine_is_one_line_naming_cuda_0(cli, tmp_path, cache_dir, monkeypatch):
    """The usual GPU machine has one: `--device cuda:1` there read "there are 1 CUDA devices"."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    args = ["--models", "copy", "--dataset", "ring8", "--device", "cuda:1"]
    line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
    assert "device 'cuda:1' requested but there is 1 CUDA device; use cuda:0" in line, line
    assert not find_results(tmp_path / "runs")  # nothing was run


def test_cifar10_offline_names_the_file_to_provide(cli, tmp_path, cache_dir, monkeypatch):
    from genbench.data import download

    def offline(*a, **k):  # the downloader's one network call (urllib.request.urlopen is not it)
        raise OSError("network is unreachable")

    monkeypatch.setattr(download, "_open_url", offline)
    line = single_line_error(
        cli(
            *run_args(
                tmp_path / "runs",
                cache_dir,
                "--models",
                "gaussian",
                "--dataset",
                "cifar10",
                "--data-dir",
                str(tmp_path / "data"),
            )
        )
    )
    assert "cifar-10-python.tar.gz" in line and str(tmp_path / "data") in line


RING8_COPY = "--models copy --dataset ring8 --samples 50 --metrics fid --no-progress".split()


@pytest.mark.parametrize(
    "args, flag",
    [
        (["run", *RING8_COPY, "--out", ""], "--out"),  # wrote ring8/copy/seed0.json here
        (["run", *RING8_COPY, "--cache-dir", " "], "--cache-dir"),  # cached features here
        (["run", *RING8_COPY, "--data-dir", ""], "--data-dir"),
        (["run", *RING8_COPY, "--reference-stats", ""], "--reference-stats"),  # "reference stats ." refused
        (["run", *RING8_COPY, "--inception-weights", ""], "--inception-weights"),  # "weights . not found"
        (["eval", "--samples", "", "--dataset", "ring8"], "--samples"),  # "no PNG/JPEG images in ."
        (["stats", "--out", "", "--dataset", "ring8"], "--out"),  # ". does not end in .npz"
        (["report", "--out", ""], "--out"),  # read every result under here
        (["report", "--leaderboards", ""], "--leaderboards"),  # wrote <dataset>.md here
    ],
)
def test_an_empty_path_is_refused_naming_its_flag(cli, tmp_path, monkeypatch, args, flag):
    """``--out "$OUT"`` with OUT unset passes "", which Path reads as the current directory: results,
    cached features and leaderboards went there without a word."""
    monkeypatch.chdir(tmp_path)
    line = single_line_error(cli(*args))
    assert f"Invalid value for '{flag}': the path is empty" in line and "'.' for here" in line, line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, said",
    [
        # each read the working directory as a folder of images ("images have mixed sizes: ...")
        (
            ["run", "--models", "copy", "--samples", "50", "--no-progress", "--dataset", ""],
            "--dataset is empty",
        ),
        (["eval", "--samples", "s.npz", "--no-progress", "--dataset", " "], "--dataset is empty"),
        (["stats", "--out", "st.npz", "--no-progress", "--dataset", ""], "--dataset is empty"),
        # scored in the dataset's features, unsaid, where an empty --metrics is refused
        (["run", *RING8_COPY, "--features", ""], "--features is empty"),
        (["eval", "--samples", "s.npz", "--dataset", "ring8", "--features", ""], "--features is empty"),
        (["stats", "--out", "st.npz", "--dataset", "ring8", "--features", ""], "--features is empty"),
        # listed digits' values as if no --dataset had been given
        (["list", "models", "ddpm", "--dataset", ""], "--dataset is empty"),
        (["list", "features", "raw", "--dataset", ""], "--dataset is empty"),
    ],
)
def test_an_empty_dataset_or_features_is_refused(cli, tmp_path, monkeypatch, args, said):
    """``--dataset "$DATA"`` with DATA unset passes "", which Path reads as the current directory."""
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "s.npz", samples=np.zeros((50, 2), np.float32))
    line = single_line_error(cli(*args, *(["--cache-dir", tmp_path / "c"] if args[0] != "list" else [])))
    assert said in line and "an unset shell variable?" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


@pytest.mark.parametrize("command", ["run", "eval", "stats"])
def test_an_unknown_reference_split_is_one_line_naming_the_flag(cli, tmp_path, cache_dir, command):
    """``--reference-split val`` said "use 'train' or 'test'" without naming the flag, and only once
    the dataset was read; it is checked with the other flags now."""
    common = ["--reference-split", "val", "--cache-dir", str(cache_dir), "--no-progress"]
    args = {
        "run": ["run", "--models", "gaussian", "--dataset", "ring8", "--out", str(tmp_path / "o")],
        "eval": [
            "eval",
            "--samples",
            str(tmp_path / "none.npz"),
            "--dataset",
            "ring8",
            "--out",
            str(tmp_path),
        ],
        "stats": ["stats", "--out", str(tmp_path / "s.npz"), "--dataset", "ring8"],
    }[command]
    line = single_line_error(cli(*args, *common))
    assert "unknown split 'val'" in line and "--reference-split train or test" in line
    assert not list(tmp_path.rglob("*.json")) and not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize(
    "command, api, kept",
    [
        # stopped outside any training, it said "rerun to resume training" of none
        (
            "run",
            "genbench.runner.run",
            "finished results are saved; rerun to go on (trained models load from their checkpoints)",
        ),
        # eval and report said "rerun to resume training" too
        ("eval", "genbench.evaluation.evaluate", "no result was written"),
        ("report", "genbench.reporting.write_report", "the leaderboards written so far are complete"),
    ],
)
def test_ctrl_c_says_what_each_command_kept(cli, tmp_path, monkeypatch, command, api, kept):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, interrupted)  # each command imports its API function when it runs
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 8, 8), np.uint8))
    args = {
        "run": ["run", "--models", "copy", "--out", str(tmp_path)],
        "eval": ["eval", "--samples", str(tmp_path / "s.npz"), "--dataset", "digits", "--out", str(tmp_path)],
        "report": ["report", "--out", str(tmp_path)],
    }[command]
    r = cli(*args)
    assert r.exit_code == 130 and r.stderr.strip() == f"interrupted: {kept}", r.output


def test_bad_reference_stats_fail_fid_and_keep_the_other_metrics(cli, tmp_path, cache_dir):
    """A reference .npz with missing keys or the wrong dimension: warned about before any training,
    FID records the error (one line naming the fix, exit 2), every other metric is still written."""
    np.savez(tmp_path / "stats.npz", mean=np.zeros(3))
    # which metrics are written is the point: 300 samples and the metrics checked below, not ring8's
    # 10,000 and every metric (prdc, memorization and kid took 25 of the test's 28 seconds)
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "300"]
    args += ["--metrics", "fid,kid,prdc,modes", "--no-figures"]
    args += ["--reference-stats", str(tmp_path / "stats.npz")]
    out = tmp_path / "runs"
    res = cli(*run_args(out, cache_dir, *args))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    warning = res.output.index("FID will not be computed")
    assert warning < res.output.index("error:")  # shown before the work, not only at the end
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "lack mu, sigma" in errors[0] and "save an .npz with mu" in errors[0]
    written = json.loads((out / "ring8" / "gaussian" / "seed0.json").read_text())
    assert "fid" not in written["metrics"] and "lack mu, sigma" in written["metric_errors"]["fid"]
    assert {"kid", "precision", "modes_covered"} <= set(written["metrics"])

    from genbench.features.reference_stats import save_reference_stats

    save_reference_stats(tmp_path / "wide.npz", np.zeros(5), np.eye(5))  # ring8's raw features: 2-D
    args[-1] = str(tmp_path / "wide.npz")
    res = cli(*run_args(tmp_path / "runs2", cache_dir, *args))
    assert res.exit_code == 2
    assert res.output.index("FID will not be computed") < res.output.index("error:")
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "dimension 5" in errors[0] and "--features" in errors[0]
