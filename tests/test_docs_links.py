"""Every relative link in README.md and docs/*.md reaches a file, and every ``#anchor`` a heading of
it, by GitHub's slug rules. The README's reference sections moved into docs/, and a section named
from another page (``[Datasets](datasets.md)``, ``](docs/plugins.md#class-conditional-models)``)
breaks in silence when a heading is renamed or a page moved again.

``python tests/test_docs_links.py`` prints each broken link, one a line, and exits 1 if any."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target "title")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+(\S+)", re.M)  # [label]: target
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where brackets are no links."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"(`+)(?:(?!\1)(?!\n\s*\n).)+?\1", "", text, flags=re.S)  # code spans may wrap


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text (links by their text, no code ticks) lowercased, every
    character but letters, digits, spaces, ``-`` and ``_`` dropped, spaces made ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of ``path``'s headings; a repeated heading's are ``-1``, ``-2``, ... as GitHub's."""
    seen: dict[str, int] = {}
    found = set()
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", path.read_text(), flags=re.M | re.S)
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def broken_links(path: Path) -> list[str]:
    """Each relative link of ``path`` whose file or anchor does not exist, as ``path: target``."""
    text = _prose(path.read_text())
    bad = []
    for target in [*LINK.findall(text), *REFERENCE.findall(text)]:
        target = target.strip("<>")
        if EXTERNAL.match(target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            bad.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{path.relative_to(ROOT)}: {target} (no heading of {dest.name} has that anchor)")
    return bad


def test_every_relative_link_and_anchor_in_the_readme_and_docs_resolves():
    docs = documents()
    assert len(docs) > 2  # the README and the pages it moved into docs/
    assert not [line for doc in docs for line in broken_links(doc)]


def test_the_readme_links_every_docs_page():
    readme = ROOT / "README.md"
    linked = {
        (readme.parent / t.partition("#")[0]).resolve() for t in LINK.findall(_prose(readme.read_text()))
    }
    assert not [p.name for p in documents()[1:] if p.resolve() not in linked]


def test_the_checker_finds_a_missing_file_a_missing_anchor_and_skips_code(tmp_path, monkeypatch):
    """The checker itself: a link to a file that is not there, or to an anchor no heading gives, is
    reported; one inside code, an external one and a good one are not."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/a.md").write_text(
        "# What every number means\n\n## Metric options\n\n## Notes\n## Notes\n"
    )
    (tmp_path / "README.md").write_text(
        "# genbench\n\n## Class-conditional results on digits (3 seeds, from `make x`)\n"
        "[ok](docs/a.md#metric-options) [ok](docs/a.md#notes-1) [ok](#genbench) "
        "[ok](#class-conditional-results-on-digits-3-seeds-from-make-x) [ext](https://example.org/x.md#y)\n"
        "[gone](docs/b.md) [typo](docs/a.md#metric-option) [self](#nowhere) [dup](docs/a.md#notes-2)\n"
        "`[code](docs/c.md)`\n\n```\n[fenced](docs/d.md)\n```\n"
    )
    got = broken_links(tmp_path / "README.md")
    assert [line.split(" (")[0] for line in got] == [
        "README.md: docs/b.md",
        "README.md: docs/a.md#metric-option",
        "README.md: #nowhere",
        "README.md: docs/a.md#notes-2",
    ]
    assert slug("Speed at CIFAR-10 scale (one H200, one H100)") == "speed-at-cifar-10-scale-one-h200-one-h100"


if __name__ == "__main__":
    problems = [line for doc in documents() for line in broken_links(doc)]
    print("\n".join(problems) or f"{len(documents())} files: every relative link and anchor resolves")
    sys.exit(1 if problems else 0)
