"""`--set` sweeps and the variants they name (one row per change, whatever way it was typed), weights
owners' fields, aliases, and the per-dataset config files of the models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cli_helpers import run_args, single_line_error  # tests/ is on the path: pytest puts it there
from cli_models import PointsOnly

from genbench import GenbenchError, RunConfig, registry
from genbench.progress import Progress
from genbench.resolve import build_metrics
from genbench.results import find_results


def planned_rows(
    tmp_path: Path, cache_dir: Path, models: list[str], *overrides: str, dataset: str = "digits"
) -> list[tuple[str, str]]:
    """``(model, row label)`` of every variant :func:`genbench.planning.plan` makes of ``models`` with
    ``--set overrides``: what a run would write, without training anything."""
    from genbench.model_plan import row_label
    from genbench.planning import plan

    config = RunConfig(
        models=models, dataset=dataset, overrides=list(overrides), out=tmp_path, cache_dir=cache_dir
    )
    return [(n, row_label(v, owner)) for n, _, variants, owner in plan(config).models for v in variants]


def test_set_override_sweeps_variants(cli, tmp_path, cache_dir):
    args = [
        "--models",
        "test-tiny-trained",
        "--dataset",
        "ring8",
        "--samples",
        "100",
        "--set",
        "test-tiny-trained.steps=3,5",
    ]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 0, r.output
    labels = sorted(p.parent.name for p in find_results(tmp_path))
    assert labels == ["test-tiny-trained_steps=3", "test-tiny-trained_steps=5"]
    res = json.loads(find_results(tmp_path)[0].read_text())
    assert res["config"]["steps"] in (3, 5) and res["variant"].startswith("steps=")


def test_a_tuple_field_sweeps_only_values_written_with_colons(tmp_path, cache_dir):
    from genbench.planning import plan

    def variants(value: str) -> list[dict[str, str]]:
        config = RunConfig(
            models=["ddpm"], overrides=[f"ddpm.ch_mult={value}"], out=tmp_path, cache_dir=cache_dir
        )
        return plan(config).models[0][2]

    assert variants("1:2:2") == [{"ch_mult": "1:2:2"}]
    assert variants("1:2,1:2:2") == [{}, {"ch_mult": "1:2:2"}]  # 1:2 is digits' default: plain ddpm
    assert variants("1:,2:") == [{"ch_mult": "1"}, {"ch_mult": "2"}]
    with pytest.raises(GenbenchError, match=r"trailing ':' to sweep them \(ddpm.ch_mult=1:,2:\)"):
        variants("1,2")


def test_a_number_option_whose_default_is_none_is_recorded_as_a_number(tmp_path, cache_dir):
    """``kid.subset_size`` (default None) stayed text: ``0500`` and ``500`` were two protocols, two rows."""
    from genbench.planning import plan

    def options(value: str) -> dict:
        config = RunConfig(
            models=["copy"],
            metrics=["kid"],
            metric_options=[f"kid.subset_size={value}"],
            out=tmp_path,
            cache_dir=cache_dir,
        )
        return plan(config).metric_options

    assert options("0500") == options("500") == {"kid": {"subset_size": 500}}


def test_an_empty_tuple_is_labelled_so_that_the_label_reads_back(register, tmp_path, cache_dir):
    """``--set ddpm.attn_resolutions=:`` was labelled ``attn_resolutions=``, which --set refuses (a
    model of its own: ddpm's U-Net fields are refused on ring8, where it trains an MLP)."""
    from genbench.planning import plan

    class Levels(PointsOnly):
        @dataclass
        class Config:
            levels: tuple[int, ...] = (16,)

    register(registry.models, "test-levels", Levels)
    config = RunConfig(
        models=["test-levels"],
        dataset="ring8",
        overrides=["test-levels.levels=:"],
        out=tmp_path,
        cache_dir=cache_dir,
    )
    (variant,) = plan(config).models[0][2]
    assert variant == {"levels": ":"}
    again = replace(config, overrides=[f"test-levels.{k}={v}" for k, v in variant.items()])
    assert plan(again).models[0][2] == [variant]


def test_a_variant_is_named_by_what_it_changes(tmp_path, cache_dir):
    """The published digits board had rows ``ddim`` and ``ddim[steps=50]``: one measurement twice,
    since the sweep's 50 is ddim's default. A value equal to the default names no variant, and one
    value typed two ways (``eta=1``, ``eta=1.0``), or fields set in another order, name one."""

    def rows(models: list[str], *overrides: str) -> list[str]:
        return [label for _, label in planned_rows(tmp_path, cache_dir, models, *overrides)]

    assert rows(["ddim"], "ddim.steps=10,50,100") == ["steps=10", "", "steps=100"]
    assert rows(["ddim"], "ddim.eta=1,1.0,1e0,0.0") == ["eta=1", ""]
    assert rows(["ddim"], "ddim.steps=050", "ddim.clip_denoised=yes") == [""]
    assert rows(["ddim"], "ddim.clip_denoised=off") == ["clip_denoised=false"]
    assert rows(["ddim"], "ddpm.lr=0.002", "ddim.steps=20") == ["steps=20"]  # the owner's default
    assert rows(["ddim"], "ddpm.lr=1e-3") == ["ddpm.lr=0.001"]
    assert rows(["ddim"], "ddim.steps=20", "ddim.eta=0.5") == rows(["ddim"], "ddim.eta=.5", "ddim.steps=20")
    assert rows(["ddim"], "ddim.steps=20", "ddim.eta=0.5", "ddpm.lr=1e-3") == [
        "eta=0.5,steps=20,ddpm.lr=0.001"
    ]
    assert rows(["vae"], "vae.lr=5e-4,1e-3") == ["lr=0.0005", ""]  # 1e-3 is its default


def test_minus_zero_is_one_value_with_zero_in_variants_and_checkpoint_keys(tmp_path, cache_dir):
    """``--set ddpm.grad_clip=-0,0`` (both turn clipping off) were two variants, two rows and two
    checkpoint keys: ``-0.0 == 0.0``, but the label wrote ``-0`` and the key hashed ``-0.0``."""
    from baselines.ddpm import DDPM
    from genbench.model_config import resolve_model_config
    from genbench.planning import plan
    from genbench.training import checkpoint_subdir

    config = RunConfig(
        models=["ddpm"],
        dataset="ring8",
        overrides=["ddpm.grad_clip=-0,0", "ddpm.mlp_fourier_scale=-0.0"],
        out=tmp_path,
        cache_dir=cache_dir,
    )
    p = plan(config)
    assert p.models[0][2] == [{"grad_clip": "0", "mlp_fourier_scale": "0"}]
    keys = {
        checkpoint_subdir(
            "ring8", "ddpm", DDPM(p.dataset.spec, resolve_model_config(DDPM, "ring8", v)), 0, False
        )
        for v in ({"grad_clip": "-0"}, {"grad_clip": "0"}, {"grad_clip": "-0.0"})
    }
    assert len(keys) == 1


def test_a_tuple_field_of_a_weights_owner_is_checked_as_the_owners_own_is(cli, tmp_path, cache_dir):
    """``--models ddim --set ddpm.ch_mult=1,2`` said "sweep one value at a time" (running one-level
    U-Nets ``1`` and ``2`` in turn), not how to write the tuple, which ``--models ddpm,ddim`` said."""
    for models in ("ddim", "ddim,ddpm", "ddpm,ddim"):
        args = ["--models", models, "--dataset", "ring8", "--set", "ddpm.ch_mult=1,2"]
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert "separate its items with ':' (ddpm.ch_mult=1:2)" in line, line


def test_an_owner_field_that_leaves_its_weights_as_they_are_names_no_dependent_row(cli, tmp_path, cache_dir):
    """``--models ddim --set ddpm.variance=beta`` wrote ``ddim[ddpm.variance=beta]``, plain ddim's
    very samples (ddim samples ddpm's weights with its own sampler): so did a U-Net field on ring8,
    where ddpm trains an MLP. Alone it is refused; with ddpm in --models it is ddpm's variant only."""
    for field in ("ddpm.variance=beta", "ddpm.ch=64"):
        args = ["--models", "ddim", "--dataset", "ring8", "--seeds", "0", "--set", field]
        args += ["--set", "ddpm.train_steps=2", "--samples", "20", "--metrics", "modes"]  # quick if it runs
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert f"--set {field} does not change the ddpm weights that ddim samples on ring8" in line, line
        assert "drop it, or add ddpm to --models" in line, line

    def rows(models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset="ring8")

    assert rows(["ddpm", "ddim"], "ddpm.variance=beta,beta_tilde") == [
        ("ddpm", "variance=beta"),
        ("ddpm", ""),
        ("ddim", ""),
    ]
    assert rows(["ddim"], "ddpm.lr=2e-3", "ddpm.variance=beta_tilde") == [("ddim", "ddpm.lr=0.002")]
    assert rows(["ddpm", "ddim"], "ddpm.lr=2e-3", "ddpm.variance=beta") == [
        ("ddpm", "lr=0.002,variance=beta"),
        ("ddim", "ddpm.lr=0.002"),
    ]
    # a sweep of a training field: a ddim row over each checkpoint, the sampling field ddpm's alone
    assert rows(["ddpm", "ddim"], "ddpm.lr=2e-3,3e-3", "ddpm.variance=beta") == [
        ("ddpm", "lr=0.002,variance=beta"),
        ("ddpm", "lr=0.003,variance=beta"),
        ("ddim", "ddpm.lr=0.002"),
        ("ddim", "ddpm.lr=0.003"),
    ]


def test_a_training_field_set_on_a_sampler_names_the_model_that_trains(cli, tmp_path, cache_dir):
    """``--set ddim.train_steps=400`` was answered "did you mean steps?", DDIM's sampling steps: ddim
    trains nothing, and the training steps are those of the ddpm whose weights it samples. A typo of
    ddim's own field is still told the field it meant."""
    for models in ("ddim", "ddpm,ddim"):
        args = ["--models", models, "--dataset", "ring8", "--set", "ddim.train_steps=400"]
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert "model 'ddim' has no config field 'train_steps'" in line, line
        assert "samples the weights of 'ddpm'" in line and "use --set ddpm.train_steps=400" in line, line
        assert "did you mean" not in line, line
    args = ["--models", "ddim", "--dataset", "ring8", "--set", "ddim.stesp=10"]
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
    assert "has no config field 'stesp'; did you mean steps?" in line, line


def test_a_swept_training_field_set_on_a_sampler_names_the_whole_sweep(cli, tmp_path, cache_dir):
    """``--set ddim.train_steps=200,400`` was told ``use --set ddpm.train_steps=200``: the refusal was
    made one sweep point at a time, so the fix dropped the other values typed."""
    args = ["--models", "ddim", "--dataset", "ring8", "--set", "ddim.train_steps=200,400"]
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
    assert line.endswith("use --set ddpm.train_steps=200,400"), line


def test_a_swept_training_field_of_a_weights_owner_runs_the_dependent_on_each_value(tmp_path, cache_dir):
    """``--models ddpm,ddim --set ddpm.train_steps=200,400`` was refused ("sweeps ddpm, which a
    dependent model reuses; sweep one value at a time"): a ddim row now samples each ddpm checkpoint, labelled
    as ``--models ddim --set ddpm.train_steps=200`` labels it, in a grid with ddim's own sweep; a
    value typed twice (200, 2e2) is one checkpoint and one row."""

    def rows(models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset="ring8")

    assert rows(["ddpm", "ddim"], "ddpm.train_steps=200,400") == [
        ("ddpm", "train_steps=200"),
        ("ddpm", "train_steps=400"),
        ("ddim", "ddpm.train_steps=200"),
        ("ddim", "ddpm.train_steps=400"),
    ]
    assert rows(["ddim"], "ddpm.train_steps=200,2e2") == [("ddim", "ddpm.train_steps=200")]
    assert rows(["ddim"], "ddpm.train_steps=200,400", "ddim.steps=10,20") == [
        ("ddim", "steps=10,ddpm.train_steps=200"),
        ("ddim", "steps=20,ddpm.train_steps=200"),
        ("ddim", "steps=10,ddpm.train_steps=400"),
        ("ddim", "steps=20,ddpm.train_steps=400"),
    ]
    # two training fields swept: their grid, each point a checkpoint
    grid = rows(["ddim"], "ddpm.train_steps=200,400", "ddpm.lr=2e-3,3e-3")
    assert len(grid) == 4 and len(set(grid)) == 4, grid


def test_a_field_of_another_model_of_the_run_names_that_model(cli, tmp_path, cache_dir):
    """``--models ddpm,vae --set ddpm.latent_dim=8`` listed ddpm's 22 fields, not that latent_dim is
    the VAE's; a field no model of the run has is still answered with the model's own fields."""
    base = ["--dataset", "ring8", "--models", "ddpm,vae,gan-ns"]
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *base, "--set", "ddpm.latent_dim=8")))
    assert "model 'ddpm' has no config field 'latent_dim': it is a field of 'vae'" in line, line
    assert "use --set vae.latent_dim=8" in line, line
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *base, "--set", "vae.lr_g=1e-3,2e-3")))
    assert "use --set gan-ns.lr_g=1e-3,2e-3; or did you mean vae.lr?" in line, line
    # each close name is the model's, to paste (it said "gan-ns.lr_g, lr_d", lr_d of no model)
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *base, "--set", "gan-ns.lr=1e-3")))
    assert line.endswith("; or did you mean gan-ns.lr_g, gan-ns.lr_d?"), line
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *base, "--set", "ddpm.latnt_dim=8")))
    assert "has no config field 'latnt_dim'; fields: timesteps" in line, line


def test_a_field_a_model_does_not_use_on_the_data_names_no_row(cli, tmp_path, cache_dir):
    """``--set ddpm.ch=64`` on ring8 (the U-Net's width, where an MLP trains on the points) wrote a
    ``ddpm[ch=64]`` row holding plain ddpm's very samples; on digits the U-Net reads it."""
    for model, field in [
        ("ddpm", "ch=64"),
        ("ddpm", "clip_denoised=false"),  # points have no range to clip to
        ("ddim", "clip_denoised=false"),
        ("gan-sat", "g_width=8"),
        ("vae", "min_res=2"),
    ]:
        args = ["--models", model, "--dataset", "ring8", "--seeds", "0", "--set", f"{model}.{field}"]
        line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
        assert f"--set {model}.{field} changes nothing {model} trains or samples on ring8" in line, line

    def rows(dataset: str, models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset=dataset)

    assert rows("digits", ["ddpm"], "ddpm.ch=8") == [("ddpm", "ch=8")]
    assert rows("ring8", ["ddpm"], "ddpm.mlp_hidden=64") == [("ddpm", "mlp_hidden=64")]
    # the VAE's floor on a learned sigma does nothing once sigma is fixed (ring8's config fixes it)
    assert rows("digits", ["vae"], "vae.min_log_sigma=-4") == [("vae", "min_log_sigma=-4")]
    with pytest.raises(GenbenchError, match=r"--set vae.min_log_sigma=-4 changes nothing vae"):
        rows("digits", ["vae"], "vae.min_log_sigma=-4", "vae.decoder_sigma=0.5")
    with pytest.raises(GenbenchError, match=r"--set vae.min_log_sigma=-4 changes nothing vae"):
        rows("ring8", ["vae"], "vae.min_log_sigma=-4")


def test_a_sweep_point_that_leaves_a_field_unused_is_named_without_it(tmp_path, cache_dir):
    """``--set vae.decoder_sigma=none,0.5 --set vae.min_log_sigma=-4``: the floor acts on the learned
    sigma and does nothing on the fixed one. The sweep was refused whole; the fixed point is named by
    what it changes, as a point at a field's default is, and a field no point uses is still refused."""

    def rows(dataset: str, *overrides: str) -> list[str]:
        return [label for _, label in planned_rows(tmp_path, cache_dir, ["vae"], *overrides, dataset=dataset)]

    assert rows("digits", "vae.decoder_sigma=none,0.5", "vae.min_log_sigma=-4") == [
        "min_log_sigma=-4",
        "decoder_sigma=0.5",
    ]
    # ring8's config fixes sigma at 0.1: its plain row is the fixed point, named after nothing
    assert rows("ring8", "vae.decoder_sigma=none,0.1", "vae.min_log_sigma=-4,-5") == [
        "decoder_sigma=none,min_log_sigma=-4",
        "decoder_sigma=none,min_log_sigma=-5",
        "",
    ]
    with pytest.raises(GenbenchError, match=r"--set vae.min_log_sigma=-4 changes nothing vae"):
        rows("digits", "vae.decoder_sigma=0.5,0.25", "vae.min_log_sigma=-4")


@pytest.mark.parametrize("keeps_hparams", [False, True])
def test_an_owners_fields_reach_a_dependent_by_its_training_config(
    register, tmp_path, cache_dir, keeps_hparams
):
    """The rule is the owner's ``train_config`` (what keys its checkpoint), not a list of ddpm's
    fields. With ``keeps_hparams``, an owner whose ``train_config`` returns hyperparameters it kept in
    ``__init__`` (research code's ``self.hparams``): asked of one built model whose config was swapped
    under it, every value gave the same key, and ``--set test-owner.steps=3`` was refused as
    changing nothing, though the runner trains it at 3 steps under another checkpoint key."""

    @dataclass
    class OwnerConfig:
        steps: int = 5
        temperature: float = 1.0  # how it samples: no part of its training config

    class Owner(PointsOnly):
        Config = OwnerConfig

        def __init__(self, spec, config=None):
            super().__init__(spec, config)
            self.hparams = {"steps": self.config.steps}

        def train_config(self):
            return self.hparams if keeps_hparams else {"steps": self.config.steps}

    class Dependent(PointsOnly):
        weights_from = "test-owner"

        @classmethod
        def from_trained(cls, owner, config):
            return cls(owner.spec, config)

    register(registry.models, "test-owner", Owner)
    register(registry.models, "test-dependent", Dependent)

    def rows(models: list[str], *overrides: str) -> list[tuple[str, str]]:
        return planned_rows(tmp_path, cache_dir, models, *overrides, dataset="ring8")

    assert rows(["test-dependent"], "test-owner.steps=3") == [("test-dependent", "test-owner.steps=3")]
    assert rows(["test-owner", "test-dependent"], "test-owner.temperature=2") == [
        ("test-owner", "temperature=2"),
        ("test-dependent", ""),
    ]
    assert rows(["test-owner", "test-dependent"], "test-owner.steps=3", "test-owner.temperature=2") == [
        ("test-owner", "steps=3,temperature=2"),
        ("test-dependent", "test-owner.steps=3"),
    ]
    with pytest.raises(GenbenchError, match=r"--set test-owner.temperature=2 does not change the test-owner"):
        rows(["test-dependent"], "test-owner.temperature=2")


def test_a_tuple_written_in_brackets_is_told_the_form_that_works(tmp_path, cache_dir):
    """``--set ddpm.ch_mult=[1,2]`` was told to write ``ddpm.ch_mult=[1:2]``, which failed as
    "bad value '[1'"; a tuple item that is no number named no form at all."""
    from baselines.ddpm import DDPM
    from genbench.model_config import resolve_model_config
    from genbench.planning import plan

    def error(value: str) -> str:
        config = RunConfig(
            models=["ddpm"], overrides=[f"ddpm.ch_mult={value}"], out=tmp_path, cache_dir=cache_dir
        )
        with pytest.raises(GenbenchError) as e:
            plan(config)
        return str(e.value)

    for typed in ("[1,2]", "(1,2)", "[1, 2]"):
        line = error(typed)
        assert "(ddpm.ch_mult=1:2)" in line and "(ddpm.ch_mult=1:,2:)" in line, line
        fixed = line.split("(ddpm.ch_mult=")[1].split(")")[0]
        assert resolve_model_config(DDPM, "digits", {"ch_mult": fixed}).ch_mult == (1, 2)
    for typed in ("[1:2]", "1;2", "none"):
        assert "write its items as 1:2:2, or : for none" in error(typed), typed


def test_a_config_file_that_no_model_reads_fails_the_run(cli, tmp_path, cache_dir, monkeypatch):
    """A ``gan-sat.toml`` beside gan-ns.toml (gan-sat reads gan-ns.toml) or a misspelt ``dpm.toml``
    was ignored: the model trained on other defaults than the file's, with nothing said."""
    import shutil

    from baselines import configs
    from genbench.planning import plan

    for stray in ("gan-sat.toml", "dpm.toml"):
        root = tmp_path / stray / "configs"
        shutil.copytree(configs.CONFIG_DIR / "ring8", root / "ring8")
        (root / "ring8" / stray).write_text("steps = 5\n")
        monkeypatch.setattr(configs, "CONFIG_DIR", root)
        args = ["--models", "copy,gan-sat", "--dataset", "ring8", "--set", "gan-sat.steps=2"]
        args += ["--samples", "20", "--metrics", "modes"]
        line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
        assert f"{root / 'ring8' / stray} is read by no model" in line and "rename or remove it" in line
    monkeypatch.setattr(configs, "CONFIG_DIR", tmp_path / "gan-sat.toml" / "configs")
    (configs.CONFIG_DIR / "ring8" / "gan-sat.toml").unlink()
    assert plan(  # the other files as they were: read
        RunConfig(models=["gan-sat"], dataset="ring8", out=tmp_path / "runs", cache_dir=cache_dir)
    ).models[0][2] == [{}]


def test_a_config_folder_that_no_dataset_reads_fails_the_run(cli, tmp_path, cache_dir, monkeypatch):
    """A misspelt ``configs/digts/`` was ignored, every model training on ``digits/``'s defaults;
    so was a folder named by a dataset that reads another's (``stacked-digits`` reads digits')."""
    import shutil

    from baselines import configs

    for folder, said in [
        ("digts", "no installed dataset is named 'digts'; did you mean digits?"),
        ("ring-8", "did you mean ring8?"),
        ("stacked-digits", "stacked-digits reads the digits folder; edit that one"),
        ("my-plugin-data", "no installed dataset is named 'my-plugin-data'; rename it"),
    ]:
        root = tmp_path / folder / "configs"
        shutil.copytree(configs.CONFIG_DIR / "ring8", root / "ring8")
        shutil.copytree(configs.CONFIG_DIR / "ring8", root / folder)
        monkeypatch.setattr(configs, "CONFIG_DIR", root)
        args = ["--models", "copy,vae", "--dataset", "ring8", "--set", "vae.steps=2"]
        args += ["--samples", "20", "--metrics", "modes"]
        line = single_line_error(cli(*run_args(tmp_path / "runs", cache_dir, *args)))
        assert f"{root / folder} is read by no dataset: " in line and said in line, line


def test_a_config_folder_of_a_plugin_dataset_is_read_once_it_is_installed(register, monkeypatch, tmp_path):
    import shutil

    from baselines import configs
    from baselines.vae import VAE
    from genbench.data.toy2d import Ring8

    root = tmp_path / "configs"
    shutil.copytree(configs.CONFIG_DIR / "ring8", root / "ring8")
    (root / "test-ring").mkdir()
    (root / "test-ring" / "vae.toml").write_text("steps = 7\n")
    monkeypatch.setattr(configs, "CONFIG_DIR", root)
    with pytest.raises(GenbenchError, match="no installed dataset is named 'test-ring'"):
        VAE.dataset_defaults("ring8")

    class Ring(Ring8):
        pass

    register(registry.datasets, "test-ring", Ring)
    assert VAE.dataset_defaults("test-ring") == {"steps": 7}
    assert VAE.dataset_defaults("ring8")["steps"] == 3000


def test_set_override_through_an_alias_reaches_the_model(cli, tmp_path, cache_dir):
    """``--set gan.steps=3`` sets gan-ns's steps (``gan`` is its alias): it used to be dropped
    without a word, training the default 20k steps under a row that looked like the user's."""
    args = ["--models", "gan", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--set", "gan.steps=3"))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "ring8/gan-ns_steps=3/seed0.json").read_text())
    assert (res["config"]["steps"], res["variant"], res["training"]["steps"]) == (3, "steps=3", 3)


def test_a_field_set_twice_under_a_model_and_its_alias_fails(cli, tmp_path, cache_dir):
    args = ["--models", "gan", "--dataset", "ring8", "--set", "gan.steps=3", "--set", "gan-ns.steps=5"]
    line = single_line_error(cli(*run_args(tmp_path, cache_dir, *args)))
    assert "set the same field of 'gan-ns'" in line and "--set gan-ns.steps=A,B" in line


def test_a_seed_metric_or_sweep_value_given_twice_runs_once(cli, tmp_path, cache_dir):
    args = ["--models", "test-tiny-trained,test-tiny-trained", "--dataset", "ring8", "--samples", "100"]
    args += ["--seeds", "0,1,0", "--metrics", "fid,fid", "--set", "test-tiny-trained.steps=3,3"]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 0, r.output
    written = sorted(str(p.relative_to(tmp_path)) for p in find_results(tmp_path))
    assert written == [f"ring8/test-tiny-trained_steps=3/seed{s}.json" for s in (0, 1)]
    assert "2 of 2 runs ok" in r.stderr
    assert [type(m).__name__ for m in build_metrics(["fid", "fid"], "points", Progress(enabled=False))] == [
        "FID"
    ]
