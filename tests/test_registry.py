"""Registries validate at registration, suggest names, and isolate broken plugins."""

from __future__ import annotations

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


def fresh() -> Registry:
    reg = Registry("model", "genbench.test-nothing-here", GenerativeModel, "models")
    return reg


def test_register_and_get_with_alias():
    reg = fresh()
    reg.register("my-model", aliases=("mine",))(_Model)
    assert reg.get("my-model") is _Model
    assert reg.get("mine") is _Model
    assert reg.check("mine") == "my-model"


@pytest.mark.parametrize("bad", ["", "My Model", "UPPER", "-dash", "a/b"])
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


def test_broken_entry_point_is_reported_with_its_source_and_others_still_load():
    reg = fresh()
    reg.add("good", _Model)
    reg.discover()
    ep = metadata.EntryPoint(name="broken", value="no_such_module_xyz:Thing", group=reg.group)
    from genbench.registry import Entry

    reg._entries["broken"] = Entry(name="broken", source="broken-dist", entry_point=ep)
    with pytest.raises(PluginLoadError, match="broken-dist") as e:
        reg.get("broken")
    assert "failed to import" in str(e.value) and "ModuleNotFoundError" in str(e.value)
    assert reg.get("good") is _Model
    assert reg.load_all() == {"broken": str(e.value)}


def test_listing_names_imports_nothing():
    import subprocess
    import sys

    code = (
        "import sys; from genbench import registry;"
        "names = registry.models.names(); assert 'ddpm' in names, names;"
        "assert 'baselines.ddpm' not in sys.modules; assert 'torch_fidelity' not in sys.modules;"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_an_alias_declared_as_an_entry_point_resolves_to_its_model_once_imported():
    """``gan`` is an entry point of its own beside ``gan-ns``: ``check`` cannot know it is an alias
    before the module registers it, ``canonical`` imports it first."""
    import subprocess
    import sys

    code = (
        "from genbench import registry;"
        "print(registry.models.check('gan'), registry.models.canonical('gan'), registry.models.check('gan'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["gan", "gan-ns", "gan-ns"], out.stderr
