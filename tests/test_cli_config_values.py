"""A model config's typed values: `--set` text and the per-dataset TOML defaults read as each field's type
(tuples, unions, Enums, Literals), alike wherever a value is written.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from cli_models import PointsOnly

from genbench import GenbenchError


def test_an_optional_tuple_field_reads_as_a_tuple():
    """``tuple[int, ...] | None`` came through --set as the raw string ``"1:2"``."""
    from genbench.model_config import resolve_model_config

    class OptionalLevels(PointsOnly):
        @dataclass
        class Config:
            levels: tuple[int, ...] | None = None

    assert resolve_model_config(OptionalLevels, "ring8", {"levels": "1:2"}).levels == (1, 2)
    assert resolve_model_config(OptionalLevels, "ring8", {"levels": "none"}).levels is None
    with pytest.raises(GenbenchError, match=r"bad value 'a' for [\w-]+\.levels; expected int"):
        resolve_model_config(OptionalLevels, "ring8", {"levels": "a:b"})


def test_a_fixed_length_tuple_field_takes_exactly_its_items():
    """``tuple[int, float]`` took any number of items (``1:2:3`` became a 3-tuple), each read as an int."""
    from genbench.model_config import resolve_model_config

    def with_defaults(**defaults):
        class Pair(PointsOnly):
            @dataclass
            class Config:
                shape: tuple[int, float] = (1, 0.5)

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Pair

    got = resolve_model_config(with_defaults(), "ring8", {"shape": "2:3"}).shape
    assert got == (2, 3.0) and type(got[1]) is float
    for text in ("1:2:3", "4"):
        with pytest.raises(GenbenchError, match=r"for [\w-]+\.shape; expected 2 items like int:float"):
            resolve_model_config(with_defaults(), "ring8", {"shape": text})
    with pytest.raises(GenbenchError, match=r"expected 2 items like int:float, got 3"):
        resolve_model_config(with_defaults(shape=[1, 2, 3]), "ring8", {})
    with pytest.raises(GenbenchError, match=r"bad value '1.5' for [\w-]+\.shape; expected int"):
        resolve_model_config(with_defaults(), "ring8", {"shape": "1.5:2"})


class Size(enum.Enum):  # at module level: Config's annotations are resolved by name
    SMALL = "small"
    LARGE = "large"


def test_dataset_defaults_are_read_as_the_fields_types_as_set_reads_them():
    """A plugin's per-dataset TOML defaults reached its Config as parsed TOML: an Enum field got the
    text ``"large"``, a Path field a str, a float field the int ``1``, an int field ``1.5``."""
    from genbench.model_config import resolve_model_config

    def with_defaults(**defaults):
        class Typed(PointsOnly):
            @dataclass
            class Config:
                size: Size = Size.SMALL
                where: Path = Path("a")
                scale: float = 0.5
                steps: int = 10
                levels: tuple[int, ...] = (1,)
                kind: str = "x"

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Typed

    config = resolve_model_config(
        with_defaults(size="large", where="b/c", scale=1, steps=20, levels=[1, 2], kind="y"), "ring8", {}
    )
    assert config.size is Size.LARGE
    assert config.where == Path("b/c")
    assert (type(config.scale), config.scale) == (float, 1.0)
    assert (config.steps, config.levels, config.kind) == (20, (1, 2), "y")
    with pytest.raises(GenbenchError, match=r"bad value '1.5' for [\w-]+\.steps in its 'ring8' config"):
        resolve_model_config(with_defaults(steps=1.5), "ring8", {})
    with pytest.raises(GenbenchError, match=r"bad value 'huge' for [\w-]+\.size in its 'ring8' config"):
        resolve_model_config(with_defaults(size="huge"), "ring8", {})
    with pytest.raises(GenbenchError, match=r"bad value 'true' for [\w-]+\.steps"):
        resolve_model_config(with_defaults(steps=True), "ring8", {})


def test_a_toml_value_and_the_same_set_value_are_read_alike():
    """A model's TOML defaults and ``--set`` read one value two ways: ``train_steps = 1e3`` (a TOML
    float) trained 1000 steps while ``--set m.train_steps=1e3`` was refused; ``lr = nan`` and
    ``inf`` passed every range check and trained, though ``--set`` refuses them; a nested list
    (``[[1, 2]]``), an item with a colon (``["a:b"]``) or a Python tuple for a plain field set
    a value no ``--set`` can write."""
    import math

    from genbench.model_config import resolve_model_config

    def with_defaults(**defaults):
        class Typed(PointsOnly):
            @dataclass
            class Config:
                steps: int = 10
                lr: float = 0.1
                levels: tuple[int, ...] = (1,)
                names: tuple[str, ...] = ("a",)

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Typed

    def toml(field: str, value) -> str:
        try:
            return repr(getattr(resolve_model_config(with_defaults(**{field: value}), "ring8", {}), field))
        except GenbenchError as e:
            return str(e).replace(" in its 'ring8' config", "")

    def set_(field: str, text: str) -> str:
        try:
            return repr(getattr(resolve_model_config(with_defaults(), "ring8", {field: text}), field))
        except GenbenchError as e:
            return str(e)

    for field, value, text in [
        ("steps", 1e3, "1e3"),
        ("steps", 1000.0, "1000.0"),
        ("steps", 1e20, "1e20"),
        ("steps", 1.5, "1.5"),
        ("lr", math.nan, "nan"),
        ("lr", -math.inf, "-inf"),
        ("levels", [1.0, 2.0], "1.0:2.0"),
        ("levels", [1.5], "1.5:"),
    ]:
        assert toml(field, value) == set_(field, text), (field, value, text)
    assert set_("steps", "1e3") == "1000" and set_("steps", "1.5").startswith("bad value '1.5'")
    assert "expected a finite float" in toml("lr", math.nan)
    for field, value in [("levels", [[1, 2]]), ("levels", [[1]]), ("names", ["a:b"]), ("lr", (0.1,))]:
        assert toml(field, value).startswith("bad value"), (field, value)
    # the number as typed, not rounded to a float's 53 bits; 1e999999999 is refused, not built
    assert set_("steps", "12345678901234567891.0") == "12345678901234567891"
    assert set_("steps", "1e999999999").startswith("bad value")


def test_an_unknown_field_in_a_models_dataset_defaults_names_the_close_ones():
    from genbench.model_config import resolve_model_config

    class Typo(PointsOnly):
        @dataclass
        class Config:
            steps: int = 10
            lr: float = 0.1

        @classmethod
        def dataset_defaults(cls, dataset):
            return {"step": 20}

    with pytest.raises(GenbenchError, match=r"sets unknown field 'step'; did you mean steps\?"):
        resolve_model_config(Typo, "ring8", {})


def test_a_list_or_table_in_dataset_defaults_is_refused_for_a_field_of_one_value():
    """``lr = [0.001]`` (or ``lr_schedule = ["cosine"]``) in a model's TOML set the one value; a list
    reads as a tuple only for a tuple field."""
    from genbench.model_config import resolve_model_config

    def with_defaults(**defaults):
        class Typed(PointsOnly):
            @dataclass
            class Config:
                lr: float = 0.1
                kind: str = "x"
                levels: tuple[int, ...] = (1,)

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Typed

    assert resolve_model_config(with_defaults(levels=[1, 2]), "ring8", {}).levels == (1, 2)
    for bad in ({"lr": [0.001]}, {"kind": ["y"]}, {"kind": {"a": 1}}):
        with pytest.raises(GenbenchError, match=r"bad value .* for [\w-]+\.(lr|kind) in its 'ring8' config"):
            resolve_model_config(with_defaults(**bad), "ring8", {})


def test_a_union_field_takes_a_value_of_each_of_its_types():
    """``size: int | str = "auto"`` read every value as an int: ``--set m.size=big`` and its own
    default ``"auto"`` in the model's per-dataset defaults both failed as "expected int"."""
    from genbench.model_config import resolve_model_config

    def with_defaults(**defaults):
        class Union(PointsOnly):
            @dataclass
            class Config:
                size: int | str = "auto"
                scale: float | None = None

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Union

    assert resolve_model_config(with_defaults(size="auto"), "ring8", {}).size == "auto"
    assert resolve_model_config(with_defaults(size=12), "ring8", {}).size == 12
    assert resolve_model_config(with_defaults(), "ring8", {"size": "12"}).size == 12
    assert resolve_model_config(with_defaults(), "ring8", {"size": "big"}).size == "big"
    assert resolve_model_config(with_defaults(), "ring8", {"scale": "none"}).scale is None
    with pytest.raises(GenbenchError, match=r"bad value 'x' for [\w-]+\.scale; expected a finite float"):
        resolve_model_config(with_defaults(), "ring8", {"scale": "x"})


def test_a_union_field_reads_a_value_by_how_it_is_written_as_a_toml_does():
    """``--set m.frac=1.0`` for ``frac: int | float`` was the int 1 (its own checkpoint key, and a
    count where scikit-learn's ``max_samples`` would read a fraction) though ``frac = 1.0`` in a TOML
    is the float; ``--set m.size=1e3`` for ``size: int | str`` was 1000 though ``size = "1e3"`` is
    the text. The float stays a float through the variant's canonical text too, which the runner
    reads back, and is no default of 1."""
    from genbench.model_config import resolve_model_config
    from genbench.overrides import canonical_variant

    def with_defaults(**defaults):
        class Union(PointsOnly):
            @dataclass
            class Config:
                frac: int | float = 1
                size: int | str = "auto"
                width: float | int = 0.5
                mode: int | Literal["auto"] = "auto"
                scale: float = 1  # an int default that the dataclass keeps as the int

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Union

    def toml(field: str, value):
        return getattr(resolve_model_config(with_defaults(**{field: value}), "ring8", {}), field)

    def set_(field: str, text: str):
        return getattr(resolve_model_config(with_defaults(), "ring8", {field: text}), field)

    for field, value, text in [
        ("frac", 1.0, "1.0"),
        ("frac", 1e3, "1e3"),
        ("frac", 2, "2"),
        ("size", "1e3", "1e3"),
        ("size", 12, "12"),
        ("width", 1, "1"),
        ("width", 1.5, "1.5"),
        ("mode", 1e3, "1e3"),
    ]:
        read = set_(field, text)
        assert (type(read), read) == (type(toml(field, value)), toml(field, value)), (field, text)
    assert canonical_variant(with_defaults(), "ring8", {"frac": "1.0"}) == {"frac": "1.0"}
    assert canonical_variant(with_defaults(), "ring8", {"frac": "1e3"}) == {"frac": "1000.0"}
    assert canonical_variant(with_defaults(), "ring8", {"frac": "1"}) == {}
    # a float field alone has no int and float to tell apart: 1.0 is its default of 1
    assert canonical_variant(with_defaults(), "ring8", {"scale": "1"}) == {}
    assert canonical_variant(with_defaults(), "ring8", {"scale": "1.0"}) == {}
    canonical = canonical_variant(with_defaults(), "ring8", {"frac": "1e3"})
    assert type(resolve_model_config(with_defaults(), "ring8", canonical).frac) is float


def test_a_tuple_or_list_field_of_no_item_type_reads_numbers_else_text():
    """``g: tuple = (1, 2)`` read ``--set m.g=3:4`` as ``tuple("3:4")``, the characters
    ``('3', ':', '4')``, labelled ``g=3:::4``; ``g=1:2``, its default, was a variant of its own, and
    ``c: list`` took ``12`` as ``['1', '2']``. A TOML list for the tuple field was refused. Its items
    are read as a metric option's tuple of mixed items is: numbers, else text."""
    from genbench.model_config import resolve_model_config
    from genbench.overrides import canonical_variant

    def with_defaults(**defaults):
        class Bare(PointsOnly):
            @dataclass
            class Config:
                g: tuple = (1, 2)
                c: list = dataclasses.field(default_factory=lambda: [1, 2])
                s: frozenset = frozenset({1})
                t: typing.Tuple = ("a",)  # noqa: UP006 - the typing alias, at module level for get_type_hints

            @classmethod
            def dataset_defaults(cls, dataset):
                return defaults

        return Bare

    def set_(**texts):
        return resolve_model_config(with_defaults(), "ring8", texts)

    assert set_(g="3:4").g == (3, 4)  # was ('3', ':', '4')
    assert set_(g="1.5:a:0500:").g == (1.5, "a", 500)
    assert (set_(g=":").g, set_(g="7:").g) == ((), (7,))
    assert set_(c="12").c == [12]  # was ['1', '2']
    assert (set_(s="2:1:2").s, set_(t="1:b").t) == (frozenset({1, 2}), (1, "b"))
    assert canonical_variant(with_defaults(), "ring8", {"g": "1:2", "c": "1:2"}) == {}  # the defaults
    label = canonical_variant(with_defaults(), "ring8", {"g": "3:04", "s": "2:1", "t": "1.0:b"})
    assert label == {"g": "3:4", "s": "1:2", "t": "1:b"}  # was g=3:::0:4
    assert canonical_variant(with_defaults(), "ring8", label) == label  # typed back, the same variant
    with pytest.raises(GenbenchError, match=r"malformed tuple '1::2' for [\w-]+\.g"):
        set_(g="1::2")

    def toml(**defaults):
        return resolve_model_config(with_defaults(**defaults), "ring8", {})

    # a TOML list as --set reads its text; it was refused ("expected tuple")
    assert (toml(g=[3, 4]).g, toml(g=[1.5, "a"]).g, toml(c=[3, 4.0]).c) == ((3, 4), (1.5, "a"), [3, 4])
    assert (toml(g=[]).g, toml(s=[2, 1]).s) == ((), frozenset({1, 2}))
    for bad in ({"g": ["1"]}, {"g": [True]}, {"c": ["1"]}, {"g": [[1, 2]]}, {"g": ["a:b"]}, {"g": {"a": 1}}):
        with pytest.raises(GenbenchError, match=r"bad value .* for [\w-]+\.[gc] in its 'ring8' config"):
            toml(**bad)


def test_a_repeated_item_of_a_tuple_field_is_refused_as_a_sweep_of_its_items_is():
    """``--set ddpm.ch_mult=2,2`` (the two-level ``(2, 2)`` meant) was one sweep value, a repeated
    one being dropped as ``=10,10`` is: it ran the one-level U-Net ``(2,)`` with nothing said, where
    ``1,2,2`` was refused naming ``1:2:2``."""
    from genbench.overrides import check_sequence_sweeps, parse_overrides

    class Levels(PointsOnly):
        @dataclass
        class Config:
            levels: tuple[int, ...] = (1, 2)
            steps: int = 10

    with pytest.raises(
        GenbenchError,
        match=r"m\.levels=2,2 would run the one-item value 2 of a tuple field; separate its items with "
        r"':' \(m\.levels=2:2\), or write it with a trailing ':' for that one-item value \(m\.levels=2:\)",
    ):
        check_sequence_sweeps(Levels, parse_overrides(["m.levels=2,2"]))
    with pytest.raises(GenbenchError, match=r"m\.levels=1,2,2 would sweep 2 one-item values"):
        check_sequence_sweeps(Levels, parse_overrides(["m.levels=1,2,2"]))
    # what --set takes as it was: items joined by ':', one-item values swept, a repeated plain value
    check_sequence_sweeps(Levels, parse_overrides(["m.levels=2:2,3:", "m.steps=10,10"]))
    check_sequence_sweeps(Levels, parse_overrides(["m.levels=2:,2:"]))


def test_a_defaults_file_that_is_not_utf8_fails_naming_it_and_the_fix(tmp_path):
    """TOML is UTF-8: a comment's ``é`` saved as Latin-1 raised UnicodeDecodeError, which a run
    recorded as the model's own bug ("model 'vae' raised UnicodeDecodeError resolving its config"),
    naming neither the file nor the fix."""
    import re

    from genbench.model_config import read_toml

    path = tmp_path / "vae.toml"
    path.write_bytes("# café\nsteps = 2\n".encode("latin-1"))
    with pytest.raises(GenbenchError, match=re.escape(f"config file {path} is not valid TOML (not UTF-8")):
        read_toml(path)
    path.write_text("# café\nsteps = 2\n", encoding="utf-8")
    assert read_toml(path) == {"steps": 2}
