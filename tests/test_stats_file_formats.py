"""What the reference-statistics readers and writers accept and refuse, by the formats' own
definitions: an ``.npz`` of ``mu`` and ``sigma`` (pytorch-fid's, clean-fid's, genbench's), EDM2's
pickle, clean-fid's and torch-fidelity's file names, sfid's spatial tap, and the feature cache's
records. Each test kills a mutant of the reference-statistics path that every earlier test let pass
(a manual mutation audit of ``genbench/features/{reference,reference_stats,edm2_stats,library_stats,
inception_spatial}.py``); the expected values are the formats' or worked out by hand."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from test_library_stats import fidelity_stats  # tests/ is on the path

from genbench.data.toy2d import Ring8
from genbench.errors import MetricInputError
from genbench.features.inception import Inception
from genbench.features.inception_spatial import spatial_tap
from genbench.features.library_stats import cleanfid_mode_warning
from genbench.features.raw import Raw
from genbench.features.reference import (
    arithmetic,
    cache_path,
    key_inputs,
    key_of,
    keyed_today,
    reference_features,
)
from genbench.features.reference_stats import (
    load_reference_stats,
    made_reference,
    stats_extraction_warning,
    stats_identity,
    stats_made,
)
from genbench.results import STATS_HASH


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_integer_and_float32_statistics_load_as_float64_of_the_same_values(tmp_path):
    """Statistics of real numbers in any numeric dtype (signed or unsigned integers too) are read
    (only complex, strings and bools are refused), as float64: the loader's contract, which FID's
    float64 arithmetic relies on."""
    ints = _npz(tmp_path / "ints.npz", mu=np.array([1, 2, 3]), sigma=2 * np.eye(3, dtype=np.uint8))
    mu, sigma = load_reference_stats(ints)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_array_equal(mu, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(sigma, 2.0 * np.eye(3))
    halves = _npz(tmp_path / "f32.npz", mu=np.full(2, 0.5, np.float32), sigma=np.eye(2, dtype=np.float32))
    mu, sigma = load_reference_stats(halves)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_array_equal(mu, [0.5, 0.5])


def test_a_sigma_asymmetric_beyond_rounding_is_refused(tmp_path):
    """sigma[0, 1] = 0.001 against sigma[1, 0] = 0 in a unit covariance: a thousand times float32's
    rounding of 1, so no covariance matrix whatever the storage."""
    sigma = np.eye(3)
    sigma[0, 1] = 1e-3
    with pytest.raises(MetricInputError, match="sigma is not symmetric"):
        load_reference_stats(_npz(tmp_path / "s.npz", mu=np.zeros(3), sigma=sigma))


def test_the_zero_covariance_of_identical_features_loads(tmp_path):
    """Identical feature rows have np.cov zero: a (degenerate) covariance, symmetric and positive
    semidefinite, which loads."""
    sigma = np.cov(np.ones((5, 3)), rowvar=False)
    assert not sigma.any()
    mu, got = load_reference_stats(_npz(tmp_path / "z.npz", mu=np.ones(3), sigma=sigma))
    np.testing.assert_array_equal(got, np.zeros((3, 3)))


def test_an_eigenvalue_of_minus_one_percent_of_the_largest_variance_is_refused(tmp_path):
    """diag(1, -0.01) has the eigenvalue -0.01: a hundred times the rounding the check forgives
    (1e-4 of the largest variance), so no covariance matrix."""
    with pytest.raises(MetricInputError, match="negative eigenvalues"):
        load_reference_stats(_npz(tmp_path / "n.npz", mu=np.zeros(2), sigma=np.diag([1.0, -0.01])))


class _PrintsWhenUnpickled:
    def __reduce__(self):
        return print, ("unpickled",)


def test_an_npz_of_pickled_objects_is_refused_without_unpickling_them(tmp_path, capsys):
    """numpy stores an object array as a pickle, which calls what it names when loaded: the loader
    reads .npz files with allow_pickle=False, so the file is refused and nothing it names is run."""
    objects = np.array([_PrintsWhenUnpickled()], dtype=object)
    path = _npz(tmp_path / "o.npz", mu=objects, sigma=objects)
    with pytest.raises(MetricInputError, match="not numeric arrays"):
        load_reference_stats(path)
    assert "unpickled" not in capsys.readouterr().out


@pytest.mark.parametrize("callable_", [print, getattr, eval], ids=["print", "getattr", "eval"])
def test_an_edm2_pickle_naming_any_builtin_is_refused_unloaded(tmp_path, capsys, callable_):
    """Only what numpy arrays pickle through is resolved: a builtin (here one that would merely
    print) is refused before anything is called."""

    class Calls:
        def __reduce__(self):
            return callable_, ("'unpickled'",) if callable_ is not getattr else (str, "__name__")

    path = tmp_path / "ref.pkl"
    path.write_bytes(pickle.dumps({"fid": {"mu": Calls(), "sigma": np.eye(1)}}))
    with pytest.raises(MetricInputError, match=f"calls builtins.{callable_.__name__} when loaded"):
        load_reference_stats(path, features="inception")
    assert "unpickled" not in capsys.readouterr().out


def test_a_protocol_0_pickle_is_known_by_its_suffix_in_any_case(tmp_path):
    """Protocols 0 and 1 have no leading PROTO byte: such a pickle is known by its suffix, which a
    file copied from a case-insensitive disk may carry in capitals."""
    entry = {"mu": np.arange(2.0), "sigma": np.eye(2)}
    (path := tmp_path / "IMG512.PKL").write_bytes(pickle.dumps({"fid": entry}, protocol=0))
    mu, sigma = load_reference_stats(path, features="inception")
    np.testing.assert_array_equal(sigma, entry["sigma"])


def test_a_torch_fidelity_file_whose_input_name_holds_clean_is_not_called_clean_fid_s():
    """clean-fid writes ``.npz`` alone: torch-fidelity's ``{input}-{extractor}-stat-fid-{layer}.pt``
    of an input named ``faces_clean_train`` is no clean-fid file of its clean mode."""
    name = Path("faces_clean_train-inception-v3-compat-stat-fid-2048.pt")
    assert cleanfid_mode_warning(name, "inception") is None


@pytest.mark.parametrize(
    "members",
    [
        ["a/data.pkl", "a/version", "b/data.pkl", "b/version"],  # two archives
        ["a/b/data.pkl", "a/b/version"],  # data.pkl a folder too deep
        ["a/data.pkl"],  # no version record
        ["a/mydata.pkl", "a/version"],  # no data.pkl
    ],
    ids=["two-archives", "nested", "no-version", "other-pickle"],
)
def test_a_zip_laid_out_otherwise_than_torch_save_is_not_read_as_torch_fidelity_s(tmp_path, members):
    """torch.save's zip holds one folder with ``data.pkl`` and ``version`` records: any other zip,
    even one holding a pickled dict of mu and sigma, is read as the .npz it claims to be, and lacks
    mu and sigma."""
    path = tmp_path / "mydata-train-inception-v3-compat-stat-fid-2048.pt"
    blob = pickle.dumps({"mu": np.zeros(1), "sigma": np.eye(1)})
    with zipfile.ZipFile(path, "w") as z:
        for name in members:
            z.writestr(name, blob if name.endswith(".pkl") else b"3\n")
    with pytest.raises(MetricInputError, match="lack mu, sigma"):
        load_reference_stats(path, features="inception")


def test_a_record_that_today_s_keys_do_not_make_is_not_today_s(tmp_path):
    """A file of another key scheme that hashed one more field (its own key made from its record)
    is never read by today's runs, whose keys hash no such field; nor one under another key."""
    ds = Ring8(cache_dir=tmp_path)
    inputs = key_inputs(ds, Raw(ds, cache_dir=tmp_path), "train")
    assert keyed_today(inputs, key_of(inputs))
    more = {**inputs, "resize": "bicubic"}
    assert not keyed_today(more, key_of(more))
    # nor is a file whose name's key is not the one its record makes (renamed, or another's record)
    assert not keyed_today(inputs, key_of(more))


def test_the_spatial_tap_is_inception_s_own_network_weights_and_batch_size(
    random_inception_weights, tmp_path
):
    """sfid's features of the ``inception`` extractor run its network object (one copy in memory, one
    pass), its weights file and its batch size; a subclass of Inception (the tap itself) has none."""
    inc = Inception(None, cache_dir=tmp_path, weights=random_inception_weights, batch_size=3)
    tap = spatial_tap(inc)
    assert tap is not None and tap.network_of is inc
    assert tap.weights == inc.weights and tap.batch_size == 3 and tap.device == inc.device
    assert tap.model is inc.model
    assert spatial_tap(tap) is None


def test_cached_features_of_more_rows_than_the_split_are_recomputed(tmp_path):
    """A cache entry is the features of every example of the split, one row each: one row more is
    another split's (or a damaged write), recomputed as one row fewer is."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    x = ds.load("train")[0].double().numpy()
    path = cache_path(ds, ext, "train", tmp_path)
    path.parent.mkdir(parents=True)
    np.savez(path, features=np.concatenate([x, x[:1]]))
    with pytest.warns(UserWarning, match=f"recomputing .*{len(x) + 1} feature rows for {len(x)} examples"):
        feats = reference_features(ds, ext, "train", tmp_path)
    np.testing.assert_array_equal(feats.features, x)


def test_torch_fidelity_s_inception_statistics_load_from_the_api_without_features(tmp_path):
    """Without the run's features (the Python API), a torch-fidelity file is read whatever its name's
    extractor: only a run's other features are refused."""
    feats = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    path = fidelity_stats(tmp_path, feats, "inception-v3-compat")
    mu, sigma = load_reference_stats(path)
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-6)  # torch-fidelity's np.mean of the rows


def test_a_torch_save_of_a_list_is_named_as_no_dict_of_mu_and_sigma(tmp_path):
    torch.save([np.zeros(1), np.eye(1)], path := tmp_path / "stats.pt")
    with pytest.raises(
        MetricInputError, match="hold a saved list, not torch-fidelity's dict of mu and sigma"
    ):
        load_reference_stats(path)


def test_a_record_that_is_no_dict_or_an_edm2_file_without_a_count_records_nothing(tmp_path):
    """``stats_made`` is a dict or None: a record of another JSON value, or an EDM2 pickle without
    ``num_images``, records nothing."""
    listed = _npz(tmp_path / "l.npz", mu=np.zeros(1), sigma=np.eye(1), genbench=np.array("[1, 2]"))
    assert stats_made(listed) is None
    (edm2 := tmp_path / "ref.pkl").write_bytes(pickle.dumps({"fid": {"mu": np.zeros(1), "sigma": np.eye(1)}}))
    assert stats_made(edm2) is None


MADE = {"dataset": "cifar10", "split": "test", "num_examples": 10000, "dataset_fingerprint": "ab12"}
NOTHING = {"reference_split": None, "num_reference": None, "dataset_fingerprint": None}


@pytest.mark.parametrize(
    "made, dataset, expected",
    [
        (MADE, "cifar10", {"reference_split": "test", "num_reference": 10000, "dataset_fingerprint": "ab12"}),
        (MADE, "mnist", NOTHING),  # another dataset's statistics: none of it is this run's reference
        (
            {**MADE, "split": "val"},
            "cifar10",
            {**NOTHING, "num_reference": 10000, "dataset_fingerprint": "ab12"},
        ),
        (
            {**MADE, "num_examples": True},
            "cifar10",
            {**NOTHING, "reference_split": "test", "dataset_fingerprint": "ab12"},
        ),
        (
            {**MADE, "dataset_fingerprint": 12},
            "cifar10",
            {**NOTHING, "reference_split": "test", "num_reference": 10000},
        ),
    ],
    ids=["same-dataset", "other-dataset", "unknown-split", "bool-size", "number-fingerprint"],
)
def test_a_stats_record_gives_the_protocol_only_values_a_result_may_record(made, dataset, expected):
    assert made_reference(made, dataset) == expected


@pytest.mark.parametrize("rows", [0, -1, True, 2.0], ids=["zero", "negative", "bool", "float"])
def test_a_recorded_batch_size_no_extraction_can_have_is_not_warned_of(tmp_path, rows):
    """``batch_rows`` is a count of rows, 1 or more: any other value records nothing to compare."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    made = {"batch_rows": rows, "arithmetic": arithmetic(ext.device)}
    assert stats_extraction_warning(made, ext, tmp_path / "s.npz", "ring8", "train") is None


def test_a_record_of_64_rows_or_more_matches_any_batch_of_64_or_more(tmp_path):
    """Calls of 64 rows or more take the same kernels: statistics recorded at 500 rows a call match a
    run at --batch-size 256, and nothing is warned of."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path, batch_size=256)
    made = {"batch_rows": 500, "arithmetic": arithmetic(ext.device)}
    assert stats_extraction_warning(made, ext, tmp_path / "s.npz", "ring8", "train") is None


def test_a_warning_names_calls_of_64_rows_or_more_as_such(tmp_path):
    """At --batch-size 256 every call is 64 rows or more: the warning says so, not "64 rows"."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path, batch_size=256)
    made = {"batch_rows": 2, "arithmetic": arithmetic(ext.device)}
    said = stats_extraction_warning(made, ext, tmp_path / "s.npz", "ring8", "train")
    assert "extracted 2 rows at a time" in said and "64 or more rows at a time (--batch-size 256)" in said


def test_a_statistics_file_is_recorded_by_its_name_and_sha256_s_first_16_digits(tmp_path, monkeypatch):
    """The protocol's record of --reference-stats: the file's name (however the path was typed) and
    the first 16 hexadecimal digits of the SHA-256 of its bytes."""
    path = _npz(tmp_path / "s.npz", mu=np.zeros(1), sigma=np.eye(1))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert stats_identity(path) == f"s.npz {STATS_HASH}{digest[:16]}"
    monkeypatch.chdir(tmp_path)
    assert stats_identity(Path("./s.npz")) == stats_identity(path)


def test_a_mean_that_is_no_vector_is_refused(tmp_path):
    """mu is of shape (D,): a (D, 1) column, as a matrix of the same length, is no mean vector."""
    path = _npz(tmp_path / "m.npz", mu=np.zeros((3, 1)), sigma=np.eye(3))
    with pytest.raises(MetricInputError, match=r"mu has shape \(3, 1\).*expected \(D,\) and \(D, D\)"):
        load_reference_stats(path)


def test_an_edm2_entry_that_is_no_dict_is_named_as_missing(tmp_path):
    """EDM2's entries are dicts of mu and sigma: a ``fid`` of another type is no entry, and the error
    names the entries the file has."""
    (path := tmp_path / "ref.pkl").write_bytes(
        pickle.dumps({"fid": 3, "fd_dinov2": {"mu": np.zeros(1), "sigma": np.eye(1)}})
    )
    with pytest.raises(MetricInputError, match="have no 'fid' entry, .*they have fd_dinov2"):
        load_reference_stats(path, features="inception")


def test_a_setting_of_its_own_overrides_its_parent_s_tf32(tmp_path):
    """PyTorch's ``fp32_precision`` settings inherit only where ``"none"``: IEEE set on matmuls and
    on cuDNN's convolutions stands under TF32 set at the top (in a fresh process: they are global)."""
    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("this torch has only the allow_tf32 flags")
    code = (
        "import torch; b = torch.backends; b.fp32_precision = 'tf32';"
        "b.cuda.matmul.fp32_precision = 'ieee'; b.cudnn.conv.fp32_precision = 'ieee';"
        "from genbench.features.reference import arithmetic; print(arithmetic(torch.device('cuda')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "cuda,tf32-conv=False,tf32-matmul=False"
