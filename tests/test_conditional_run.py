"""Class-conditional runs end to end (``GenerativeModel.conditional``): the labels drawn for the
samples (stratified, seeded), handed to ``fit`` and ``sample`` and to the metrics
(``EvalContext.sample_labels``), recorded in the protocol, saved with the samples and read back by
`genbench eval`, as ADM's ``arr_1`` is. Each test fails on the code before conditioning: nothing
there drew, passed, saved or read labels."""

from __future__ import annotations

import json
import re
from typing import ClassVar

import numpy as np
import pytest
import torch
from cli_helpers import eval_args, run_args, single_line_error  # tests/ is on the path: pytest puts it there
from plugin_helpers import _Metric

from baselines.controls import Copy, CopyCond
from genbench import registry
from genbench.config import RunConfig
from genbench.data.digits import Digits
from genbench.errors import MetricInputError
from genbench.runner import run
from genbench.sample_labels import draw_labels, fewest_samples, labels_seed, labels_sha256, stratified_counts


@pytest.mark.parametrize(
    ("counts", "n", "expected"),
    [
        ([3, 1], 10, [8, 2]),  # 7.5 : 2.5, the tie to the lower class
        ([5, 3, 2], 7, [4, 2, 1]),  # 3.5, 2.1, 1.4: floors 3, 2, 1, the one left to the largest remainder
        ([1, 1, 1], 4, [2, 1, 1]),  # 4/3 each: a three-way tie, to class 0
        ([7, 0, 5], 12, [7, 0, 5]),  # n = the split's size: its own counts, an empty class none
        ([2, 3], 1, [0, 1]),  # 0.4 : 0.6
    ],
)
def test_stratified_counts_are_the_largest_remainder_rounding(counts, n, expected):
    assert stratified_counts(counts, n) == expected


def test_fewest_samples_is_where_every_larger_count_draws_each_class_enough():
    """Brute force over small splits: from fewest_samples on, every number of samples draws each class
    per_class times or more, and one fewer does not (largest-remainder rounding is not monotone, so
    "from it on" is checked up past the share-alone bound); a class the train split lacks: None.
    Fails on the code before it: no fewest_samples."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        counts = rng.integers(1, 30, rng.integers(1, 6)).tolist()
        per_class = int(rng.integers(1, 4))
        m = fewest_samples(counts, per_class)
        bound = -(-per_class * sum(counts) // min(counts))
        assert m <= bound, (counts, per_class)
        assert all(min(stratified_counts(counts, n)) >= per_class for n in range(m, bound + 30)), counts
        assert min(stratified_counts(counts, m - 1)) < per_class, (counts, per_class, m)
    assert fewest_samples([142, 146, 142, 146, 145, 145, 145, 143, 139, 144], 2) == 20  # digits' train
    assert fewest_samples([5, 0, 3], 2) is None


def test_labels_are_seeded_by_a_stream_of_their_own():
    a, b, other = draw_labels([8, 2], 0), draw_labels([8, 2], 0), draw_labels([8, 2], 1)
    assert torch.equal(a, b) and a.dtype == torch.int64
    assert torch.equal(torch.bincount(other), torch.tensor([8, 2])) and not torch.equal(a, other)
    from genbench.scoring import sample_seed

    assert labels_seed(0) != sample_seed(0)  # the sampling noise's stream is not the labels'


class _Seen(_Metric):
    """Records what every run hands the metrics as ``sample_labels``."""

    reference = "none"
    seen: ClassVar[dict[str, np.ndarray | None]] = {}
    higher_is_better: ClassVar[dict[str, bool | None]] = {"test_seen": None}

    def compute(self, ctx):
        type(self).seen[ctx.model_name] = ctx.sample_labels
        return {"test_seen": 1.0}


class _Recorder(CopyCond):
    fits: ClassVar[list] = []
    calls: ClassVar[list] = []

    def fit(self, train, ctx):
        type(self).fits.append((len(train), ctx.labels))
        return super().fit(train, ctx)

    def sample(self, n, *, generator, labels):
        type(self).calls.append((n, generator, labels.clone()))
        return super().sample(n, generator=generator, labels=labels)


class _PlainRecorder(Copy):
    kwargs: ClassVar[list] = []
    fits: ClassVar[list] = []

    def fit(self, train, ctx):
        type(self).fits.append(ctx.labels)
        return super().fit(train, ctx)

    def sample(self, n, **kwargs):
        type(self).kwargs.append(sorted(kwargs))
        return super().sample(n, **kwargs)


@pytest.fixture
def recorded(register):
    _Seen.seen, _Recorder.fits, _Recorder.calls = {}, [], []
    _PlainRecorder.kwargs, _PlainRecorder.fits = [], []
    register(registry.metrics, "test-seen", _Seen)
    register(registry.models, "test-cond-recorder", _Recorder)
    register(registry.models, "test-plain-recorder", _PlainRecorder)


def test_a_conditional_run_hands_fit_sample_and_the_metrics_the_same_labels(
    cli, tmp_path, cache_dir, recorded
):
    out = tmp_path / "runs"
    models = "test-cond-recorder,test-plain-recorder,copy-cond"
    # throughput: the warm-up batch is drawn for it alone
    extra = [
        "--dataset",
        "digits",
        "--samples",
        "40",
        "--batch-size",
        "16",
        "--metrics",
        "test-seen,throughput",
    ]
    r = cli(*run_args(out, cache_dir, "--models", models, "--save-samples", *extra))
    assert r.exit_code == 0, r.output
    # the line said before the first value names how the classes were drawn (it did not)
    assert (
        "seed 0; class-conditional models' labels stratified to the train split's class proportions, "
        "shuffled, seeded by the run's seed" in " ".join(r.stderr.split())
    )
    train_labels = Digits(cache_dir=cache_dir).load_labels("train")
    # fit: the train split's labels, int64 on the CPU, one per row; an unconditional model's None
    [(rows, labels)] = _Recorder.fits
    assert rows == len(train_labels) and labels.dtype == torch.int64 and labels.device.type == "cpu"
    assert torch.equal(labels, train_labels)
    assert _PlainRecorder.fits == [None]
    # sample: the warm-up batch (its own generator) then 16 + 16 + 8, whose labels are the metrics'
    (n0, g0, warm), *timed = _Recorder.calls
    assert (
        [n for n, _, _ in timed] == [16, 16, 8]
        and len({id(g) for _, g, _ in timed}) == 1
        and g0 is not timed[0][1]
    )
    handed = torch.cat([labels for _, _, labels in timed])
    seen = _Seen.seen["test-cond-recorder"]
    assert seen.dtype == np.int64 and not seen.flags.writeable and np.array_equal(seen, handed.numpy())
    assert (n0, torch.equal(warm, handed[:16])) == (16, True)
    # an unconditional model is called as it always was: no labels keyword, and the metrics see None
    assert _PlainRecorder.kwargs == [["generator"]] * 4 and _Seen.seen["test-plain-recorder"] is None
    # the same command, another model: the same labels (the seed's, not the model's)
    assert np.array_equal(_Seen.seen["copy-cond"], seen)
    # the protocol: the counts stratified to the train split's proportions
    result = json.loads((out / "digits/test-cond-recorder/seed0.json").read_text())
    counts = stratified_counts(torch.bincount(train_labels, minlength=10).tolist(), 40)
    assert result["protocol"]["sample_labels"] == {
        "classes": 10,
        "counts": counts,
        "drawn": "stratified to the train split's class proportions, shuffled",
        "seed": 0,
    }
    assert np.bincount(seen, minlength=10).tolist() == counts
    plain = json.loads((out / "digits/test-plain-recorder/seed0.json").read_text())
    assert "sample_labels" not in plain["protocol"]
    # copy-cond: each sample is a training example of the class it was drawn for
    with np.load(out / "digits/copy-cond/seed0.samples.npz") as npz:
        samples, saved = npz["samples"], npz["labels"]
    assert np.array_equal(saved, seen)  # the saved samples keep their labels
    train = Digits(cache_dir=cache_dir).load("train")[0].numpy().reshape(len(train_labels), -1)
    for x, y in zip(samples.reshape(len(samples), -1), saved, strict=True):
        (rows,) = np.nonzero((train == x).all(axis=1))
        assert len(rows) and (train_labels.numpy()[rows] == y).all()
    # `genbench eval` of the saved samples hands the metrics the run's labels again
    _Seen.seen = {}
    r = cli(
        *eval_args(
            out / "digits/copy-cond/seed0.samples.npz", tmp_path / "eval", cache_dir, "--metrics", "test-seen"
        )
    )
    assert r.exit_code == 0, r.output
    [again] = _Seen.seen.values()
    assert np.array_equal(again, seen)
    # the plain model's file holds its samples alone, as before, and their evaluation hands none
    plain_file = out / "digits/test-plain-recorder/seed0.samples.npz"
    with np.load(plain_file) as npz:
        assert list(npz.keys()) == ["samples"]
    _Seen.seen = {}
    r = cli(*eval_args(plain_file, tmp_path / "eval", cache_dir, "--metrics", "test-seen"))
    assert r.exit_code == 0, r.output
    assert list(_Seen.seen.values()) == [None]


def _adm_file(path, n=12, labels=None):
    """uint8 N x H x W x C images and their labels, saved unnamed (arr_0, arr_1) as ADM saves them."""
    images = np.random.default_rng(0).integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    np.savez(path, *([images] if labels is None else [images, labels]))
    return path


def test_eval_of_an_adm_npz_hands_arr_1_to_the_metrics(cli, tmp_path, cache_dir, recorded):
    labels = np.arange(12) % 10
    r = cli(
        *eval_args(
            _adm_file(tmp_path / "adm.npz", labels=labels),
            tmp_path / "out",
            cache_dir,
            "--metrics",
            "test-seen",
        )
    )
    assert r.exit_code == 0, r.output
    [seen] = _Seen.seen.values()
    assert seen.dtype == np.int64 and np.array_equal(seen, labels)
    result = json.loads((tmp_path / "out/digits/adm/seed0.json").read_text())
    assert result["protocol"]["sample_labels"]["drawn"] == "given with the samples (arr_1)"
    assert "seed 0; classes given with the samples (arr_1)" in " ".join(r.stderr.split())
    _Seen.seen = {}
    r = cli(
        *eval_args(_adm_file(tmp_path / "plain.npz"), tmp_path / "out", cache_dir, "--metrics", "test-seen")
    )
    assert r.exit_code == 0, r.output
    assert list(_Seen.seen.values()) == [None]  # without arr_1: none, as before
    # a class-conditional metric named for them says how to give their classes (it said only
    # "this model's are not", of samples that no model here drew)
    r = cli(*eval_args(tmp_path / "plain.npz", tmp_path / "out2", cache_dir, "--metrics", "fid,intra_fid"))
    said = " ".join(r.stderr.split())
    assert r.exit_code == 0 and "not computed: intra_fid: needs a class-conditional model" in said
    assert "give their classes: 'labels' beside 'samples' in the .npz, ADM's arr_1 beside arr_0" in said


def test_eval_warns_of_an_array_beside_samples_that_it_does_not_read_as_their_classes(
    cli, tmp_path, cache_dir, recorded
):
    """Classes saved under another name (`np.savez(f, samples=x, y=labels)`) were scored as no labels
    at all, without a word (sample_labels.given_labels): the class-conditional metrics only said
    "not computed". The statistics an .npz may hold beside its samples are no such array."""
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 1), dtype=np.uint8)
    np.savez(tmp_path / "y.npz", samples=images, y=np.arange(12) % 10, mu=np.zeros(3))
    r = cli(*eval_args(tmp_path / "y.npz", tmp_path / "out", cache_dir, "--metrics", "test-seen"))
    assert r.exit_code == 0, r.output
    assert list(_Seen.seen.values()) == [None]  # still scored without them: a guess is no label
    said = " ".join(r.stderr.split())
    assert (
        f"warning: {tmp_path / 'y.npz'} holds 'y' beside 'samples', which genbench does not read: scored "
        "without class labels; if it holds the samples' classes, save it as 'labels'"
    ) in said
    np.savez(tmp_path / "plain.npz", samples=images, mu=np.zeros(3))  # nothing unread: no word
    r = cli(*eval_args(tmp_path / "plain.npz", tmp_path / "out", cache_dir, "--metrics", "test-seen"))
    assert r.exit_code == 0 and "does not read" not in r.stderr, r.output


@pytest.mark.parametrize(
    ("labels", "said"),
    [
        (np.arange(12) % 10 + 1, r"labels in \[1, 10\], outside the 10 classes"),
        (np.arange(11), r"not one integer class per sample \(12\)"),
        (np.full(12, 0.5), r"float64 labels of shape \(12,\)"),
        # whole floats too large for int64: the range was the cast's, [-9223372036854775808, ...]
        (np.r_[np.arange(11.0), 1e20], r"labels in \[0, 1e\+20\], outside the 10 classes"),
        # an object array (numpy pickles it; genbench reads none): a ValueError's traceback before
        (np.array([*range(11), None], dtype=object), r"cannot read .*'arr_1' as class labels \(ValueError"),
    ],
)
def test_eval_refuses_arr_1_labels_that_are_no_classes_of_the_dataset(cli, tmp_path, cache_dir, labels, said):
    r = cli(
        *eval_args(
            _adm_file(tmp_path / "adm.npz", labels=labels), tmp_path / "out", cache_dir, "--metrics", "kid"
        )
    )
    assert re.search(said, single_line_error(r))


def test_eval_keeps_a_result_of_labelled_samples_from_their_images_without_or_with_other_labels(
    cli, tmp_path, cache_dir, recorded
):
    """The classes are part of what a class-conditional evaluation scored: the same images evaluated
    again under the same name without them, or with other ones from another file, replaced the
    result and its intra_fid, class_accuracy and cas without a word (``check_replaceable`` compared
    the images' digest alone). The same labels (as floats), or the same file rewritten, replace it."""
    labels = np.arange(12) % 10
    out, name = tmp_path / "out", ("--metrics", "test-seen", "--name", "mine")
    written = out / "digits/mine/seed0.json"
    r = cli(*eval_args(_adm_file(tmp_path / "a.npz", labels=labels), out, cache_dir, *name))
    assert r.exit_code == 0, r.output
    said = single_line_error(cli(*eval_args(_adm_file(tmp_path / "b.npz"), out, cache_dir, *name)))
    assert "with class labels (given with the samples (arr_1)), whose class-conditional values" in said
    other = _adm_file(tmp_path / "c.npz", labels=labels[::-1].copy())
    said = single_line_error(cli(*eval_args(other, out, cache_dir, *name)))
    assert "already holds the evaluation of these samples with other class labels" in said
    assert json.loads(written.read_text())["protocol"]["samples"]["path"] == str(tmp_path / "a.npz")
    same = _adm_file(tmp_path / "d.npz", labels=labels.astype(np.float32))
    assert cli(*eval_args(same, out, cache_dir, *name)).exit_code == 0
    _adm_file(tmp_path / "d.npz", labels=labels[::-1].copy())  # the file it scored, rewritten
    assert cli(*eval_args(same, out, cache_dir, *name)).exit_code == 0
    assert json.loads(written.read_text())["protocol"]["samples"]["labels_sha256"] == labels_sha256(
        torch.from_numpy(labels[::-1].copy())
    )


def test_intra_fid_of_too_few_samples_per_class_stops_a_conditional_run_before_training(
    cli, tmp_path, cache_dir, recorded
):
    """15 samples stratified to ring8's 8 classes draw class 3 once: intra_fid had no covariance for
    it, said only once every model had trained and sampled (fails on the code before the planning
    check: the run trained, exit 2 at the end). Now one line before any fit, naming the samples that
    draw each class twice; the same command of an unconditional model alone is not refused, and the
    number named (2 of each class exactly) runs."""
    extra = ["--dataset", "ring8", "--metrics", "intra_fid", "--no-figures", "--samples"]
    out = tmp_path / "runs"
    r = cli(*run_args(out, cache_dir, "--models", "test-plain-recorder,test-cond-recorder", *extra, "15"))
    assert single_line_error(r) == (
        "error: intra_fid: fewer than 2 of 15 samples are drawn for 1 of 8 classes (class 3: 1), which "
        "have no covariance; use --samples 16 or more"
    )
    assert (_Recorder.fits, _PlainRecorder.fits) == ([], []) and not list(tmp_path.rglob("*.json"))
    r = cli(*run_args(out, cache_dir, "--models", "test-plain-recorder", *extra, "15"))
    assert r.exit_code == 0, r.output  # intra_fid left out of its result, named "not computed"
    assert _PlainRecorder.fits == [None]
    r = cli(*run_args(out, cache_dir, "--models", "test-cond-recorder", *extra, "16"))
    assert r.exit_code == 0, r.output
    result = json.loads((out / "ring8/test-cond-recorder/seed0.json").read_text())
    assert result["protocol"]["sample_labels"]["counts"] == [2] * 8
    assert np.isfinite(result["metrics"]["intra_fid"]) and not result["metric_errors"]


def test_eval_of_given_classes_with_one_sample_of_a_class_stops_before_any_feature_is_extracted(
    cli, tmp_path, cache_dir, monkeypatch
):
    """`genbench eval` of samples whose arr_1 gives class 9 one sample: intra_fid had no covariance
    for it, said only once every sample's features were extracted (Inception over 50000 images is
    many minutes on a CPU), with the other metrics' result written and exit 2. Now intra_fid's
    check_classes refuses it at once, in one line naming eval's fix (no --samples draws more of a
    class there): fails on the old evaluation, whose line was compute's, after extraction. Two of
    each class pass the check (the boundary), and intra_fid is computed."""
    from genbench.features.base import FeatureExtractor
    from genbench.features.classifier import Classifier

    extracted = []
    for cls in (FeatureExtractor, Classifier):  # digits' default features, and any other's
        real = cls.extract

        def counted(self, x, progress=None, real=real):
            extracted.append(len(x))
            return real(self, x, progress)

        monkeypatch.setattr(cls, "extract", counted)
    labels = np.arange(20) % 10
    labels[-1] = 0  # class 9: one sample
    out, metrics = tmp_path / "out", ("--metrics", "fid,intra_fid")
    r = cli(*eval_args(_adm_file(tmp_path / "adm.npz", n=20, labels=labels), out, cache_dir, *metrics))
    assert single_line_error(r) == (
        "error: intra_fid: fewer than 2 of 20 samples are given for 1 of 10 classes (class 9: 1), which "
        "have no covariance; give 2 or more samples of each class, or leave intra_fid out of --metrics"
    )
    assert extracted == [] and not list(out.rglob("*.json"))
    r = cli(
        *eval_args(_adm_file(tmp_path / "adm.npz", n=20, labels=np.arange(20) % 10), out, cache_dir, *metrics)
    )
    assert r.exit_code == 0, r.output
    assert 20 in extracted  # the samples' features, once the check passed
    result = json.loads((out / "digits/adm/seed0.json").read_text())
    assert np.isfinite(result["metrics"]["intra_fid"]) and not result["metric_errors"]


def test_a_reference_class_of_one_example_stops_a_conditional_run_before_training(
    register, tmp_path, cache_dir, recorded
):
    """Through the Python API: a --reference-split whose class 7 holds one example has no covariance
    for it; refused before any training in compute's own line (fails on the code before the planning
    check: the model trained, then intra_fid recorded the error)."""
    from genbench.data.toy2d import Ring8

    class ThinTest(Ring8):  # ring8, but its test split's class 7 relabelled 0 but for one example
        def _load(self, split):
            x, labels = super()._load(split)
            if split == "test":
                labels = labels.clone()
                labels[torch.nonzero(labels == 7).flatten()[1:]] = 0
            return x, labels

    register(registry.datasets, "test-thin-test", ThinTest)
    config = RunConfig(
        models=["test-cond-recorder"], dataset="test-thin-test", samples=200, reference_split="test",
        metrics=["fid", "intra_fid"], out=tmp_path / "runs", cache_dir=cache_dir, device="cpu",
        figures=False, progress=False,
    )  # fmt: skip
    with pytest.raises(MetricInputError) as e:
        run(config)
    assert str(e.value) == (
        "intra_fid: fewer than 2 test examples are for 1 of 8 classes (class 7: 1), which have no "
        "covariance; use a dataset whose test split has more examples"
    )
    assert _Recorder.fits == [] and not list(tmp_path.rglob("*.json"))


def test_conditional_metrics_are_quiet_for_unconditional_models(cli, tmp_path, cache_dir):
    """intra_fid, class_accuracy and cas are in the default set: a run without --metrics scores them
    for a conditional model (copy-cond, a copy of each class: intra-FID 0, the labeller's own accuracy) and
    leaves them out of an unconditional one's results without a word, as gan_dynamics is for a VAE."""
    out = tmp_path / "runs"
    args = ["--models", "copy-cond,copy", "--dataset", "digits", "--seeds", "0", "--no-figures"]
    r = cli(*run_args(out, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert not re.search(r"\b(intra_fid|class_accuracy|cas)\b", r.output), r.output
    cond = json.loads((out / "digits/copy-cond/seed0.json").read_text())
    plain = json.loads((out / "digits/copy/seed0.json").read_text())
    assert cond["metrics"]["intra_fid"] == pytest.approx(0, abs=1e-6)
    assert cond["metrics"]["class_accuracy"] == cond["metrics"]["class_accuracy_ref"] > 0.99
    # cas: a classifier trained on copies of training examples, tested on the test split (fails
    # before cas: no such value)
    assert 0.9 < cond["metrics"]["cas"] <= 1 and 0.9 < cond["metrics"]["cas_ref"] <= 1
    assert not {"intra_fid", "class_accuracy", "cas"} & set(plain["metrics"]) and not plain["metric_errors"]


def test_the_python_api_takes_the_classes_of_samples_held_in_memory(tmp_path, cache_dir, recorded):
    """`genbench.evaluate(x, config, labels=...)`: samples in an array had no way to bring their
    classes (only an .npz's `labels` or ADM's `arr_1`), so intra_fid and class_accuracy could not score
    a conditional model's samples from Python; the labels are checked as a file's are."""
    import genbench

    x = Digits(cache_dir=cache_dir).load("test")[0][:12]
    config = genbench.RunConfig(
        dataset="digits",
        out=str(tmp_path / "out"),
        cache_dir=str(cache_dir),
        metrics=["test-seen"],
        progress=False,
    )
    labels = torch.arange(12) % 10
    result = genbench.evaluate(x, config, name="held", labels=labels)
    [seen] = _Seen.seen.values()
    assert seen.dtype == np.int64 and np.array_equal(seen, labels.numpy()) and not seen.flags.writeable
    assert result.protocol["sample_labels"]["drawn"] == "given (labels=)"
    assert result.protocol["sample_labels"]["counts"] == [2, 2] + [1] * 8
    with pytest.raises(
        genbench.GenbenchError, match=r"labels= holds labels in \[1, 10\], outside the 10 classes"
    ):
        genbench.evaluate(x, config, name="held", labels=labels + 1)
    with pytest.raises(
        genbench.GenbenchError, match=r"not one integer class per sample \(12\); pass labels="
    ):
        genbench.evaluate(x, config, name="held", labels=labels[:5])
