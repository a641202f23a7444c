"""Registries validate at registration, suggest names, and isolate broken plugins."""

from __future__ import annotations

import dataclasses
import json
import sys
from importlib import metadata

import pytest
import torch

from genbench.api import GenerativeModel
from genbench.errors import PluginLoadError, RegistrationError, UnknownNameError
from genbench.registry import Registry, models


class _Model(GenerativeModel):
    def sample(self, n, *, generator):
        return torch.zeros(n, *self.spec.shape)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


#: a concrete model's methods, for plugin modules written by tests
METHODS = (
    "    def sample(self, n, *, generator):\n        return None\n"
    "    def state_dict(self):\n        return {}\n"
    "    def load_state_dict(self, state):\n        pass\n"
)


def model_module(*classes: str) -> str:
    """A plugin module's text: concrete model classes named ``classes``."""
    return "from genbench.api import GenerativeModel\n" + "".join(
        f"class {name}(GenerativeModel):\n{METHODS}" for name in classes
    )


def fresh() -> Registry:
    reg = Registry("model", "genbench.test-nothing-here", GenerativeModel, "models")
    return reg


def test_register_and_get_with_alias():
    reg = fresh()
    reg.register("my-model", aliases=("mine",))(_Model)
    assert reg.get("my-model") is _Model
    assert reg.get("mine") is _Model
    assert reg.check("mine") == "my-model"


@pytest.mark.parametrize("bad", ["", "My Model", "UPPER", "-dash", "a/b", "gan\n"])
def test_bad_names_fail_at_registration(bad):
    with pytest.raises(RegistrationError, match="invalid model name"):
        fresh().add(bad, _Model)


def test_duplicate_registration_fails_but_reregistering_same_class_is_fine():
    reg = fresh()
    reg.add("x", _Model)
    reg.add("x", _Model)

    class Other(_Model):
        pass

    with pytest.raises(RegistrationError, match="already registered"):
        reg.add("x", Other)


@pytest.mark.parametrize("bad", [0, -1, "2", 1.5, True])
def test_a_version_that_is_not_a_positive_integer_fails_at_registration(bad):
    class Versioned(_Model):
        version = bad

    with pytest.raises(RegistrationError, match="use a positive integer"):
        fresh().add("x", Versioned)


def test_wrong_type_fails():
    with pytest.raises(RegistrationError, match="must be a subclass"):
        fresh().add("x", dict)
    with pytest.raises(RegistrationError, match="must be a subclass"):
        fresh().add("x", lambda: None)


def test_unknown_name_suggests_close_ones():
    reg = fresh()
    reg.add("ddpm", _Model)
    with pytest.raises(UnknownNameError, match=r"unknown model 'dpm'; did you mean 'ddpm'\?"):
        reg.get("dpm")
    with pytest.raises(UnknownNameError, match="genbench list models") as e:
        reg.get("zzzzzz")
    assert "did you mean" not in str(e.value)


def test_real_registry_suggests_for_typos():
    with pytest.raises(UnknownNameError, match="did you mean 'ddpm'"):
        models.get("ddmp")
    # a name in capitals: difflib scores every letter as different, so there was no hint at all
    for typed, meant in (("DDPM", "ddpm"), ("Gan-NS", "gan-ns")):
        with pytest.raises(UnknownNameError, match=rf"unknown model '{typed}'; did you mean '{meant}'\?"):
            models.get(typed)


def test_a_metric_value_given_as_a_metric_names_the_metric_that_computes_it():
    """``--metrics precision`` (a board's column) said "did you mean 'is_inf'?"; it names ``prdc``."""
    from genbench.registry import metrics

    for value, metric in (
        ("precision", "prdc"),
        ("intra_fid_max", "intra_fid"),
        ("samples_per_s", "throughput"),
    ):
        with pytest.raises(UnknownNameError) as e:
            metrics.check(value)
        assert str(e.value) == (
            f"unknown metric {value!r}: {value!r} is a value of metric {metric!r}, which computes it; "
            f"name {metric!r} instead (see `genbench list metrics`)"
        )
    assert metrics.check("prdc") == "prdc"  # a metric's own name is still a metric
    with pytest.raises(UnknownNameError, match=r"^unknown metric 'zzzzzz' \(see"):  # other names as before
        metrics.check("zzzzzz")


@pytest.mark.parametrize(
    ("module", "error"),
    [
        (None, "ModuleNotFoundError"),  # the module is not there
        # a plugin that exits at import (sys.exit, argparse): SystemExit escaped `except Exception`
        ("import sys\nsys.exit('plugin exits at import')\n", "SystemExit"),
        ("import sys\nsys.exit(2)\n", "SystemExit"),
    ],
)
def test_broken_entry_point_is_reported_with_its_source_and_others_still_load(
    tmp_path, monkeypatch, module, error
):
    if module is not None:
        (tmp_path / "broken_plugin_xyz.py").write_text(module)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, "broken_plugin_xyz", raising=False)
    reg = fresh()
    reg.add("good", _Model)
    reg.discover()
    ep = metadata.EntryPoint(name="broken", value="broken_plugin_xyz:Thing", group=reg.group)
    from genbench.registry import Entry

    reg._entries["broken"] = Entry(name="broken", source="broken-dist", entry_point=ep)
    with pytest.raises(PluginLoadError, match="broken-dist") as e:
        reg.get("broken")
    assert "failed to import" in str(e.value) and error in str(e.value)
    assert reg.get("good") is _Model
    assert reg.load_all() == {"broken": str(e.value)}


def in_a_fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new Python process (nothing imported yet), asserting it ran."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_listing_names_imports_nothing():
    code = (
        "import sys; from genbench import registry;"
        "names = registry.models.names(); assert 'ddpm' in names, names;"
        "assert 'baselines.ddpm' not in sys.modules; assert 'torch_fidelity' not in sys.modules;"
        "print('ok')"
    )
    assert in_a_fresh_interpreter(code).strip() == "ok"


def test_the_cli_starts_without_torch_and_the_api_names_import_it_on_first_use():
    """`import genbench` imported torch (seconds), so `genbench --help` waited for it and a Ctrl-C
    in that time was a traceback, before the CLI's handler could say "interrupted"."""
    code = (
        "import sys, genbench.cli.main; assert 'torch' not in sys.modules;"
        "from genbench import GenerativeModel, DataSpec, TrainContext; import genbench.api as api;"
        "assert (GenerativeModel, DataSpec, TrainContext) == (api.GenerativeModel, api.DataSpec, api.TrainContext);"
        "print('ok')"
    )
    assert in_a_fresh_interpreter(code).strip() == "ok"
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        import genbench

        genbench.Nope  # noqa: B018


def test_an_alias_declared_as_an_entry_point_resolves_to_its_model_once_imported():
    """``gan`` is an entry point of its own beside ``gan-ns``: ``check`` cannot know it is an alias
    before the module registers it, ``canonical`` imports it first."""
    code = (
        "from genbench import registry;"
        "print(registry.models.check('gan'), registry.models.canonical('gan'), registry.models.check('gan'))"
    )
    assert in_a_fresh_interpreter(code).split() == ["gan", "gan-ns", "gan-ns"]


def fake_distribution(
    site, name: str, entry_points: dict[str, dict[str, str]], files: list[str] = ()
) -> None:
    """An installed distribution as importlib.metadata finds it: a dist-info folder on sys.path,
    with a RECORD of its ``files`` (paths under ``site``)."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"  # as pip names it
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/METADATA"]))
    lines = []
    for group, names in entry_points.items():
        lines += [f"[{group}]", *(f"{n} = {target}" for n, target in names.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_a_name_two_distributions_declare_fails_naming_both_whatever_the_path_order(
    tmp_path, monkeypatch, order
):
    group = "genbench.test-conflict"
    sites = {"a": tmp_path / "a", "b": tmp_path / "b"}
    (sites["a"] / "conflict_plugin_a.py").parent.mkdir(parents=True)
    (sites["a"] / "conflict_plugin_a.py").write_text(model_module("Solo"))
    fake_distribution(
        sites["a"], "plugin-a", {group: {"dup": "conflict_plugin_a:Dup", "solo": "conflict_plugin_a:Solo"}}
    )
    fake_distribution(sites["b"], "plugin-b", {group: {"dup": "conflict_plugin_b:Dup"}})
    for key in reversed(order):
        monkeypatch.syspath_prepend(str(sites[key]))
    reg = Registry("model", group, GenerativeModel, "models")
    with pytest.raises(PluginLoadError) as e:
        reg.get("dup")
    assert str(e.value) == (
        "model 'dup' is declared by both plugin-a (conflict_plugin_a:Dup) and "
        "plugin-b (conflict_plugin_b:Dup); uninstall one of them"
    )
    assert reg.get("solo").__name__ == "Solo"  # the other names still work
    assert reg.load_all() == {"dup": str(e.value)}  # what `genbench list` shows
    assert reg.source("dup") == "plugin-a, plugin-b"


def test_a_name_declared_in_a_misspelt_group_says_which_group_to_declare_it_in(tmp_path, monkeypatch):
    """A plugin declaring its model in ``genbench.model`` installs cleanly and is never read: the run
    said only "unknown model 'pca-gauss' (see `genbench list models`)", which lists no such name.
    The message names the distribution, the group it used and the group to use."""
    group = "genbench.test-misplaced"
    fake_distribution(tmp_path, "pca-plugin", {"genbench.test-misplace": {"pca-gauss": "pca:PCA"}})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("model", group, GenerativeModel, "models")
    with pytest.raises(UnknownNameError) as e:
        reg.check("pca-gauss")
    assert str(e.value) == (  # the old code: "unknown model 'pca-gauss' (see `genbench list models`)"
        "unknown model 'pca-gauss': pca-plugin declares it in the entry-point group "
        "'genbench.test-misplace', which is not 'genbench.test-misplaced'; a model registers in "
        '[project.entry-points."genbench.test-misplaced"] of its pyproject.toml: fix the group there '
        "and reinstall"
    )
    with pytest.raises(UnknownNameError, match=r"^unknown model 'other' \(see"):  # other names as before
        reg.check("other")


def test_a_plugin_declaring_a_baseline_name_is_ignored_and_the_baseline_stays(tmp_path, monkeypatch):
    """It made the name an error entry, which took the baseline down with it: a plugin declaring
    ``fid`` left every default run without FID (one warning, exit 0). Two plugins declaring one name
    still fail (above): neither is genbench's."""
    fake_distribution(tmp_path, "fake-vae", {"genbench.models": {"vae": "fake_vae:VAE"}})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("model", "genbench.models", GenerativeModel, "models")  # the real group, a fresh registry
    assert reg.get("vae").__module__ == "baselines.vae" and reg.source("vae") == "genbench"
    assert reg.ignored == {
        "vae": (
            "fake-vae",
            "model plugin 'vae' from fake-vae (fake_vae:VAE) is ignored: 'vae' is genbench's own model; "
            "rename that entry point in fake-vae",
        )
    }
    assert reg.load_all() == {} and reg.get("ddpm").__name__ == "DDPM"


def test_a_plugin_declaring_fid_leaves_runs_their_fid_and_says_so(tmp_path, genbench_process, cache_dir):
    fake_distribution(tmp_path, "fake-fid", {"genbench.metrics": {"fid": "fake_fid_xyz:MyFID"}})
    listed = genbench_process("list", "metrics", site=tmp_path)
    assert listed.returncode == 0, listed.stderr
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in listed.stdout.splitlines() if "│" in ln]
    rows = [" ".join(" ".join(c).split()) for c in cells if c and c[0] == "fid"]
    assert len(rows) == 2 and "genbench" in rows[0] and "Fréchet" in rows[0], listed.stdout
    assert "fake-fid" in rows[1] and "is ignored: 'fid' is genbench's own metric" in rows[1]
    out = tmp_path / "runs"
    run = genbench_process(
        *("run", "--models", "gaussian", "--dataset", "ring8", "--samples", "50", "--metrics", "fid"),
        *("--out", out, "--cache-dir", cache_dir, "--no-progress", "--no-figures"),
        site=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    err = " ".join(run.stderr.split())
    assert "metric plugin 'fid' from fake-fid (fake_fid_xyz:MyFID) is ignored" in err
    assert "fid" in json.loads((out / "ring8/gaussian/seed0.json").read_text())["metrics"]


def test_genbench_list_survives_a_plugin_that_exits_at_import(tmp_path, genbench_process):
    (tmp_path / "exiting_plugin_xyz.py").write_text("import sys\nsys.exit('plugin exits at import')\n")
    fake_distribution(
        tmp_path, "exiting-plugin", {"genbench.metrics": {"exitmetric": "exiting_plugin_xyz:M"}}
    )
    out = genbench_process("list", "metrics", site=tmp_path)
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if "exitmetric" in ln)
    assert "exiting-plugin" in line and "SystemExit" in line and "fid" in out.stdout


def test_a_plugin_package_shadowed_on_sys_path_names_the_shadow_not_the_plugin(tmp_path, monkeypatch):
    """``python -m genbench`` from a project with its own ``baselines/`` package imported that one:
    every reference model failed with "fix or uninstall genbench", which is not what is broken."""
    group = "genbench.test-shadowed"
    site, project = tmp_path / "site", tmp_path / "project"
    (site / "shadowed_plugin_xyz").mkdir(parents=True)
    (site / "shadowed_plugin_xyz/__init__.py").write_text("")
    (site / "shadowed_plugin_xyz/model.py").write_text(model_module("Mine"))
    files = ["shadowed_plugin_xyz/__init__.py", "shadowed_plugin_xyz/model.py"]
    fake_distribution(site, "shadowed-plugin", {group: {"mine": "shadowed_plugin_xyz.model:Mine"}}, files)
    (project / "shadowed_plugin_xyz").mkdir(parents=True)
    (project / "shadowed_plugin_xyz/__init__.py").write_text("# the user's own package\n")
    monkeypatch.syspath_prepend(str(site))
    assert Registry("model", group, GenerativeModel, "models").get("mine").__name__ == "Mine"
    monkeypatch.delitem(sys.modules, "shadowed_plugin_xyz")
    monkeypatch.delitem(sys.modules, "shadowed_plugin_xyz.model")
    monkeypatch.syspath_prepend(str(project))  # first, as the current directory is under python -m
    with pytest.raises(PluginLoadError) as e:
        Registry("model", group, GenerativeModel, "models").get("mine")
    shadow, own = project / "shadowed_plugin_xyz/__init__.py", site / "shadowed_plugin_xyz/__init__.py"
    assert f"the 'shadowed_plugin_xyz' Python imported is {shadow}, not shadowed-plugin's ({own})" in str(
        e.value
    )
    assert "run from another directory or rename it" in str(e.value) and "uninstall" not in str(e.value)


@pytest.mark.parametrize(
    ("decorator", "kind", "example"),
    [
        ("register_model", "model", "my-model"),
        ("register_dataset", "dataset", "my-dataset"),
        ("register_metric", "metric", "my-metric"),
        ("register_features", "feature extractor", "my-features"),
    ],
)
def test_a_register_decorator_without_a_str_name_fails_at_once_naming_the_fix(decorator, kind, example):
    """``@genbench.register_model`` without its parentheses made the class's name the decorator it
    returned and registered nothing, silently: the only sign was "unknown model" at the run.
    ``register_model(3)`` failed only once it decorated a class, as an "invalid name"."""
    import genbench
    from genbench import registry

    register = getattr(genbench, decorator)
    before = {r: r.names() for r in (registry.models, registry.datasets, registry.metrics, registry.features)}
    fix = f'use @genbench.{decorator}("{example}")'

    class Mine(_Model):
        pass

    with pytest.raises(RegistrationError) as e:
        register(Mine)  # what ``@register`` above ``class Mine`` does
    assert (
        str(e.value)
        == f"@genbench.{decorator} was used without a name on {__name__}:{Mine.__qualname__}; {fix}"
    )
    for name, shown in [(3, "3 (int)"), (None, "None (NoneType)"), (("a",), "('a',) (tuple)")]:
        with pytest.raises(RegistrationError) as e:
            register(name)  # before any class is decorated
        assert str(e.value) == f"a {kind} name is a str, got {shown}; {fix}"
    assert before == {r: r.names() for r in before}  # nothing was registered


@pytest.mark.parametrize("bad", ["my.model", "a.b.c"])
def test_a_name_with_a_dot_fails_at_registration_as_set_could_never_target_it(bad):
    """``--set NAME.FIELD=VALUE`` splits at the first '.', so ``my.model`` could never be configured."""
    with pytest.raises(RegistrationError, match=r"invalid model name .*no '\.'"):
        fresh().add(bad, _Model)
    with pytest.raises(RegistrationError, match="invalid model name"):
        fresh().add("fine", _Model, aliases=(bad,))
    assert not any("." in name for reg in (models,) for name in reg.names())  # no built-in has one


def test_a_failed_registration_leaves_nothing_behind():
    class Partial(_Model):
        pass

    reg = fresh()
    with pytest.raises(RegistrationError, match="invalid model name 'Bad Alias'"):
        reg.add("partial", Partial, aliases=("ok-alias", "Bad Alias"))
    assert "partial" not in reg and "ok-alias" not in reg

    reg.add("taken", _Model)
    with pytest.raises(RegistrationError, match="alias 'taken' is already taken"):
        reg.add("partial", Partial, aliases=("ok-alias", "taken"))
    assert reg.names() == ["taken"] and reg.get("taken") is _Model
    with pytest.raises(RegistrationError, match="aliases must be a tuple of names"):
        reg.add("partial", Partial, aliases="ab")  # not the aliases 'a' and 'b'
    assert reg.names() == ["taken"]
    reg.add("partial", Partial, aliases=("ok-alias",))  # the class is still free to register
    assert reg.check("ok-alias") == "partial"


def test_an_alias_equal_to_its_name_fails_at_registration():
    class SelfAlias(_Model):
        pass

    reg = fresh()
    with pytest.raises(RegistrationError, match="lists its own name among its aliases"):
        reg.add("self-alias", SelfAlias, aliases=("self-alias",))
    assert "self-alias" not in reg
    reg.add("self-alias", SelfAlias)
    assert reg.names(include_aliases=False) == ["self-alias"]


def test_registering_a_class_under_a_second_name_fails_instead_of_renaming_it():
    class Named(_Model):
        pass

    reg = fresh()
    reg.add("first", Named, aliases=("one",))
    with pytest.raises(RegistrationError, match=r"already registered as 'first'.*aliases=\('second',\)"):
        reg.add("second", Named)
    with pytest.raises(RegistrationError, match="already registered"):
        reg.add("one", Named)  # an alias is not a second name either
    assert Named.registered_name == "first" and "second" not in reg and reg.check("one") == "first"

    class Sub(Named):  # a subclass inherits registered_name but is a class of its own
        pass

    reg.add("second", Sub)
    assert (Sub.registered_name, Named.registered_name) == ("second", "first")


def test_a_built_in_metric_or_dataset_registered_again_keeps_its_name(monkeypatch):
    from genbench.registry import datasets, metrics

    fid, ring8 = metrics.get("fid"), datasets.get("ring8")
    for reg in (metrics, datasets):
        monkeypatch.setattr(reg, "_entries", {k: dataclasses.replace(e) for k, e in reg._entries.items()})
    with pytest.raises(RegistrationError, match="already registered as 'fid'"):
        metrics.add("my-fid", fid)
    with pytest.raises(RegistrationError, match="already registered as 'ring8'"):
        datasets.add("my-ring", ring8)
    assert (fid.registered_name, ring8.registered_name) == ("fid", "ring8")


def test_a_second_entry_point_naming_a_class_is_its_alias_whatever_is_loaded_first():
    """``gan`` and ``gan-ns`` both name GanNS: a registry that reads them after baselines.gan was
    imported (so no decorator runs) made ``gan`` its name and renamed the class."""
    import baselines.gan

    reg = Registry("model", "genbench.models", GenerativeModel, "models")
    assert reg.get("gan") is baselines.gan.GanNS
    assert reg.check("gan") == "gan-ns" and reg.get("gan-ns") is baselines.gan.GanNS
    assert baselines.gan.GanNS.registered_name == "gan-ns"
    assert "gan" not in reg.names(include_aliases=False) and reg.load_all() == {}


@pytest.mark.parametrize("discovered", [True, False])
def test_a_class_cannot_take_a_name_or_alias_an_entry_point_declares(tmp_path, monkeypatch, discovered):
    """An entry point not imported yet was taken for "the entry point's own module registering
    itself", so any class could fill it (and before discovery the name broke)."""
    group = "genbench.test-owned"
    (tmp_path / "owned_plugin_xyz.py").write_text(model_module("Owned"))
    fake_distribution(tmp_path, "plugin-owned", {group: {"owned": "owned_plugin_xyz:Owned"}})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "owned_plugin_xyz", raising=False)
    reg = Registry("model", group, GenerativeModel, "models")
    if discovered:
        reg.names()

    class Impostor(_Model):
        pass

    msg = r"'owned' is already registered by plugin-owned \(owned_plugin_xyz:Owned\)"
    with pytest.raises(RegistrationError, match=msg):
        reg.add("owned", Impostor)
    with pytest.raises(RegistrationError, match=r"alias 'owned' is already taken by plugin-owned"):
        reg.add("impostor", Impostor, aliases=("owned",))
    assert reg.get("owned").__name__ == "Owned" and reg.source("owned") == "plugin-owned"
    assert "impostor" not in reg and reg.load_all() == {}


def test_a_notebook_cell_run_twice_registers_its_class_again():
    """Running the cell that defines and registers a model again failed, "'mine' is already
    registered by __main__ ...; choose another name": the class defined again in ``__main__`` (same
    qualified name) replaces the old one, aliases included. Another class still cannot take it."""
    reg = fresh()

    def cell():  # what `@register_model("mine", aliases=("my",))` over `class Mine` does, run as a cell
        cls = type("Mine", (_Model,), {"__module__": "__main__", "__qualname__": "Mine"})
        reg.add("mine", cls, source="__main__", aliases=("my",))
        return cls

    cell()
    second = cell()
    assert reg.get("mine") is second and reg.get("my") is second
    other = type("Other", (_Model,), {"__module__": "__main__", "__qualname__": "Other"})
    with pytest.raises(RegistrationError, match="'mine' is already registered by __main__"):
        reg.add("mine", other, source="__main__")
    elsewhere = type("Mine", (_Model,), {"__module__": "my_module", "__qualname__": "Mine"})
    with pytest.raises(RegistrationError, match="'mine' is already registered by __main__"):
        reg.add("mine", elsewhere, source="my_module")


def test_an_in_process_class_cannot_take_a_baseline_name_or_alias(monkeypatch):
    monkeypatch.setattr(models, "_entries", {k: dataclasses.replace(e) for k, e in models._entries.items()})

    class Impostor(_Model):
        pass

    for name in ("copy", "gan", "vae"):
        with pytest.raises(RegistrationError, match=f"'{name}' is already registered by genbench"):
            models.add(name, Impostor)
    assert models.get("copy").__module__ == "baselines.controls"
    assert models.get("gan").__name__ == models.get("gan-ns").__name__ == "GanNS"


def test_a_plugin_module_decorating_a_baseline_name_fails_alone(tmp_path, genbench_process):
    """A plugin whose entry point is ``my-vae`` but whose module also decorates a class as ``vae``
    replaced the baseline VAE in `genbench list` and in runs."""
    (tmp_path / "hijack_xyz.py").write_text(
        "from genbench import GenerativeModel, register_model\n"
        f"@register_model('vae')\nclass MyVae(GenerativeModel):\n    '''THIRD-PARTY impostor'''\n{METHODS}"
        "@register_model('my-vae')\nclass MyVae2(MyVae):\n    '''third-party model'''\n"
    )
    fake_distribution(tmp_path, "hijack-dist", {"genbench.models": {"my-vae": "hijack_xyz:MyVae2"}})
    out = genbench_process("list", "models", site=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "impostor" not in out.stdout
    assert "'vae' is already registered by genbench (baselines.vae:VAE)" in " ".join(out.stdout.split())


def _registry_of(base: str) -> Registry:
    from genbench import registry

    reg = getattr(registry, base)
    return Registry(reg.kind, "genbench.test-nothing-here", reg._base, reg.plural, reg.decorator)


@pytest.mark.parametrize(
    ("base", "missing"),
    [
        ("models", "load_state_dict() and state_dict()"),
        ("datasets", "_load()"),
        ("metrics", "compute()"),
        ("features", "_extract_batch() and fingerprint()"),
    ],
)
def test_an_abstract_class_fails_at_registration_naming_what_it_does_not_implement(base, missing):
    """A model without state_dict registered, then every run of it was a TypeError traceback."""
    reg = _registry_of(base)
    body = {"sample": lambda self, n, *, generator: None} if base == "models" else {}
    Abstract = type("Abstract", (reg.base,), {"__module__": __name__, "supported_kinds": ("points",), **body})
    them = "it" if " and " not in missing else "them"
    with pytest.raises(RegistrationError) as e:
        reg.add("abstract", Abstract, aliases=("abstract-alias",))
    assert str(e.value) == (
        f"{reg.kind} 'abstract' ({__name__}:Abstract) is abstract: it does not implement {missing}; "
        f"define {them} in the class"
    )
    assert "abstract" not in reg and "abstract-alias" not in reg and reg.names() == []


class _Plain:
    steps: int = 1


@pytest.mark.parametrize(
    "config", [_Plain, dataclasses.make_dataclass("C", [("steps", int, 1)])(), dict, None]
)
def test_a_model_whose_config_is_not_a_dataclass_fails_at_registration(config):
    """``--set model.steps=`` and the TOML configs read the Config's fields: a plain class registered,
    then every --set of it failed far from the cause."""

    class Undeclared(_Model):
        Config = config

    reg = fresh()
    with pytest.raises(
        RegistrationError,
        match=r"^model 'undeclared' declares Config = .*, which is not a dataclass; decorate",
    ):
        reg.add("undeclared", Undeclared)
    assert "undeclared" not in reg

    @dataclasses.dataclass
    class Config:
        steps: int = 1

    reg.add("declared", type("Declared", (_Model,), {"Config": Config}))


@pytest.mark.parametrize("base", ["models", "metrics", "features"])
@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (
            "image",
            r"'image', a string; use a tuple of kinds: supported_kinds = \('image',\)",
        ),
        ("points", r"a string; use a tuple of kinds: supported_kinds = \('points',\)"),
        (
            ("imag",),
            r"\('imag',\); 'imag' is no kind of data: use 'image' or 'points'; did you mean 'image'\?",
        ),
        (("image", 3), r"3 is no kind of data"),
        ((), r"\(\); use a tuple of kinds"),
        (None, r"None; use a tuple of kinds"),
    ],
)
def test_supported_kinds_that_is_not_a_collection_of_known_kinds_fails_at_registration(base, kinds, message):
    """``supported_kinds = "image"`` registered, then ``"points" in "image"`` was False but
    ``"age" in "image"`` True: a string is a collection of its characters."""
    reg = _registry_of(base)
    concrete = {
        "models": {},
        "metrics": {"compute": lambda self, ctx: {}},
        "features": {"fingerprint": lambda self: "", "_extract_batch": lambda self, x: (x, None)},
    }[base]
    parent = _Model if base == "models" else reg.base
    Declared = type("Declared", (parent,), {"supported_kinds": kinds, **concrete})
    with pytest.raises(
        RegistrationError, match=f"^{reg.kind} 'declared' declares supported_kinds = .*{message}"
    ):
        reg.add("declared", Declared)
    assert "declared" not in reg
    for fine in (["points"], {"image", "points"}, ("image",)):
        reg.add(f"fine-{len(reg.names())}", type("Fine", (Declared,), {"supported_kinds": fine}))


def test_a_class_registered_by_decorator_names_its_distribution_else_its_module(tmp_path, monkeypatch):
    """`genbench list` and errors named a decorator-registered plugin class by its module
    (``acme_models``), not by the distribution to fix or uninstall (``acme-genbench``)."""
    from genbench import registry

    pkg = tmp_path / "acme_models_xyz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "extra.py").write_text(
        "from genbench import GenerativeModel, register_model\n"
        f"@register_model('acme-extra')\nclass Extra(GenerativeModel):\n{METHODS}"
    )
    # a distribution with no genbench entry point: found from its files, as pip records them
    fake_distribution(
        tmp_path, "acme-genbench", {}, files=["acme_models_xyz/__init__.py", "acme_models_xyz/extra.py"]
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.models, "_entries", dict(registry.models._entries))
    import acme_models_xyz.extra  # noqa: F401

    monkeypatch.delitem(sys.modules, "acme_models_xyz.extra")
    monkeypatch.delitem(sys.modules, "acme_models_xyz")
    assert registry.models.source("acme-extra") == "acme-genbench"
    # a class from no installed distribution (a script, this test module): its module

    @registry.models.register("test-local")
    class Local(_Model):
        pass

    assert registry.models.source("test-local") == __name__.split(".")[0]
    assert registry.models.source("ddpm") == "genbench"


def test_a_class_in_a_namespace_package_two_distributions_share_names_its_own(tmp_path, monkeypatch):
    from genbench import registry

    for dist, module in [("acme-one", "one"), ("acme-two", "two")]:
        (tmp_path / "acme_ns_xyz").mkdir(exist_ok=True)  # no __init__: a namespace package
        (tmp_path / "acme_ns_xyz" / f"{module}.py").write_text(
            "from genbench import GenerativeModel, register_model\n"
            f"@register_model('acme-{module}')\nclass M(GenerativeModel):\n{METHODS}"
        )
        fake_distribution(tmp_path, dist, {}, files=[f"acme_ns_xyz/{module}.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.models, "_entries", dict(registry.models._entries))
    import acme_ns_xyz.one  # noqa: F401
    import acme_ns_xyz.two  # noqa: F401

    for name in ("acme_ns_xyz.one", "acme_ns_xyz.two", "acme_ns_xyz"):
        monkeypatch.delitem(sys.modules, name)
    assert (registry.models.source("acme-one"), registry.models.source("acme-two")) == (
        "acme-one",
        "acme-two",
    )


def test_a_plugin_whose_distribution_appears_on_sys_path_after_the_first_lookup_is_found(
    tmp_path, monkeypatch
):
    """Entry points were read once, at the first registration or lookup: a script that put a plugin's
    folder on sys.path after that (or installed it in the process) got "unknown model"."""
    group = "genbench.test-late"
    late = tmp_path / "late"
    late.mkdir()
    (late / "late_plugin_xyz.py").write_text(model_module("Late", "Later"))
    fake_distribution(late, "plugin-late", {group: {"late": "late_plugin_xyz:Late"}})
    site = tmp_path / "site"  # a folder already on sys.path, where a package is installed later
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "late_plugin_xyz", raising=False)
    reg = Registry("model", group, GenerativeModel, "models")
    reg.add("early", _Model)
    with pytest.raises(UnknownNameError, match="unknown model 'late'"):
        reg.get("late")

    reads = []
    real = metadata.entry_points
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: reads.append(kw) or real(**kw))
    with pytest.raises(UnknownNameError, match="unknown model 'late'"):
        reg.get("late")
    assert reads == []  # nothing changed on sys.path: a miss reads nothing again

    monkeypatch.syspath_prepend(str(late))
    assert reg.get("late").__name__ == "Late" and reg.source("late") == "plugin-late"
    assert len(reads) == 1  # read again once
    assert reg.get("early") is _Model  # what was registered stays

    (site / "late_plugin_two.py").write_text(model_module("Two"))
    fake_distribution(site, "plugin-two", {group: {"two": "late_plugin_two:Two"}})
    monkeypatch.delitem(sys.modules, "late_plugin_two", raising=False)
    assert "two" in reg and reg.get("two").__name__ == "Two" and reg.source("two") == "plugin-two"
    with pytest.raises(UnknownNameError, match=r"did you mean 'two'\?"):
        reg.get("twoo")
    assert len(reads) == 2


def test_importing_genbench_reads_no_entry_points():
    code = (
        "import genbench, genbench.registry as r, genbench.cli.main;"
        "print([reg._discovered for reg in (r.models, r.datasets, r.metrics, r.features)])"
    )
    assert in_a_fresh_interpreter(code).strip() == "[False, False, False, False]"


#: concrete methods of each registry's base, for classes registered by tests
_CONCRETE = {
    "models": {},
    "datasets": {"_load": lambda self, split: (None, None)},
    "metrics": {"compute": lambda self, ctx: {}},
    "features": {"fingerprint": lambda self: "", "_extract_batch": lambda self, x: (x, None)},
}


@pytest.mark.parametrize(
    ("base", "name", "folder"),
    [
        ("models", "figures", "the folder a run writes its figures to (<out>/<dataset>/figures/)"),
        (
            "datasets",
            "leaderboards",
            "the folder `genbench report` writes to unless given --leaderboards (<out>/leaderboards/)",
        ),
    ],
)
def test_a_name_that_is_a_folder_genbench_writes_beside_its_own_fails_at_registration(base, name, folder):
    """A model ``figures`` had its results in ``<out>/<dataset>/figures/``, among its runs' figure
    folders; a dataset ``leaderboards`` its results in the report's default folder, where the report
    writes another dataset's figures into a folder of that dataset's name
    (registration_checks.check_folder_name, called by Registry.add)."""
    reg = _registry_of(base)
    Named = _concrete(reg)
    kind = reg.kind
    with pytest.raises(RegistrationError) as e:
        reg.register(name)(Named)  # as @genbench.register_model("figures") does
    assert str(e.value) == (
        f"{kind} name {name!r} is {folder}, beside each {kind}'s results folder; choose another name, "
        f"e.g. '{name}-{kind}'"
    )
    assert name not in reg and reg.names() == []
    reg.add(f"{name}-{kind}", Named)  # the name it suggests
    # an alias makes no folder (results are written under the name it stands for)
    reg.add("other", type("Other", (Named,), {}), aliases=(name,))
    assert reg.check(name) == "other"
    # only the folder a name makes is checked: a dataset beside figures/ (which is beside the models'
    # folders), a model beside leaderboards/ (beside the datasets'), and metrics and extractors (no
    # folder of their name) keep the name
    for others in {"models", "datasets", "metrics", "features"} - {base}:
        other = _registry_of(others)
        other.add(name, _concrete(other))
        assert other.check(name) == name


def _concrete(reg: Registry) -> type:
    """A concrete class of ``reg``'s base, handling points."""
    parent = _Model if reg.kind == "model" else reg.base
    return type("Named", (parent,), {"supported_kinds": ("points",), **_CONCRETE[reg.plural]})
