"""Every `genbench ...` command that README.md and docs/*.md quote parses as the CLI reads it: each
flag it names is one of its command's, each flag is given a value where it takes one, and it passes
no argument the command does not take. docs/metrics.md quoted `genbench eval gen/ --dataset real/`,
which stops with "Missing option '--samples'": a newcomer's copy of it fails.

A quote that leaves out a required option (`genbench stats --batch-size 2`, the flag a sentence is
about) passes: only what it names is checked. Nothing is run."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
from test_docs_links import documents  # tests/ is on the path: pytest puts it there

from genbench.cli.main import app

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[^\n]*$", re.M | re.S)
SPAN = re.compile(r"(?<!`)`([^`]+?)`(?!`)", re.S)  # code spans may wrap onto the next line


def quoted_commands(text: str) -> list[str]:
    """The `genbench ...` commands of ``text``: its code spans and its fenced blocks' lines (a
    ``\\`` continuation joined), each up to a pipe or redirection, its `[--flag X]` placeholders out."""
    found = [line for _, block in FENCE.findall(text) for line in block.replace("\\\n", " ").splitlines()]
    found += SPAN.findall(FENCE.sub("", text))
    commands = []
    for quote in found:
        quote = re.split(r"\s[|>]", re.sub(r"\s+", " ", quote).strip())[0]
        quote = re.sub(r"\[[^\]]*\]", "", quote).strip()
        if re.match(r"genbench [a-z]", quote):
            commands.append(quote)
    return commands


def parse_error(command: str) -> str | None:
    """What the CLI's parser says of ``command`` (a `genbench ...` line), None where it reads it."""
    words = shlex.split(command, comments=True)[1:]
    commands = typer.main.get_command(app).commands
    name, args = words[0], words[1:]
    if name not in commands:
        return f"no command {name!r}"
    sub = commands[name]
    ctx = sub.context_class(sub, info_name=name)  # click's, or the copy typer vendors
    try:
        _, rest, _ = sub.make_parser(ctx).parse_args(args)
    except Exception as e:  # a UsageError: an unknown flag, a flag without its value
        return e.format_message() if hasattr(e, "format_message") else repr(e)
    return f"takes no argument {rest[0]!r}" if rest else None  # arguments it takes are parsed


def test_the_docs_quote_commands():
    """The check below reads something: the docs' commands are found, placeholders and all."""
    commands = {c for doc in documents() for c in quoted_commands(doc.read_text())}
    assert "genbench list features inception" in commands  # `... inception [--dataset D]`
    assert "genbench list" in commands  # `genbench list | head -1`
    assert len(commands) > 40


def test_quoted_commands_that_the_cli_refuses_are_found():
    assert parse_error("genbench eval gen/ --dataset real/") is not None
    assert parse_error("genbench run --model vae") is not None
    assert parse_error("genbench run --models") is not None
    assert parse_error("genbench list models ddpm extra") is not None
    assert parse_error("genbench eval --samples gen/ --dataset real/") is None
    assert parse_error("genbench list models ddpm --dataset cifar10") is None


@pytest.mark.parametrize("doc", documents(), ids=lambda p: p.name)
def test_every_command_the_docs_quote_parses(doc):
    assert not [f"{c}: {e}" for c in quoted_commands(doc.read_text()) if (e := parse_error(c))]
