"""The LaTeX board (`<dataset>.tex`) beside the markdown one: the same tables, cell for cell, with
the protocol in every caption, and every character of a user's names and options escaped."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
from test_leaderboard import result, run_result  # tests/ is on the path: pytest puts it there

from genbench.latex import latex_tabular, latex_text, leaderboard_latex, markdown_to_latex
from genbench.leaderboard import aggregate, results_frame
from genbench.markdown import leaderboard_markdown
from genbench.reporting import write_report
from genbench.text import md_code, md_text

#: every character LaTeX reads as syntax (or prints as another glyph), in a name a user could give
NASTY = r"a_b%c&d#e$f{g}h~i^j\k<l>m|n[o]p*q--r`s"

#: each LaTeX spelling the board writes, and what it reads as: an inverse written apart from
#: genbench.latex's table, so a wrong escape there reads back wrong here
_READS = {
    r"\textbackslash{}": "\\",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\textless{}": "<",
    r"\textgreater{}": ">",
    r"\textbar{}": "|",
    r"\textasciigrave{}": "`",
    r"\textsuperscript{2}": "²",
    r"\textsuperscript{3}": "³",
    r"\dag{}": "†",
    r"$\pm$": "±",
    r"$\uparrow$": "↑",
    r"$\downarrow$": "↓",
    r"$\times$": "×",
    r"$\Vert$": "‖",
    r"$\Delta$": "Δ",
    "{[}": "[",
    "{]}": "]",
    "{*}": "*",
    "-{}": "-",
    **{f"\\{c}": c for c in "{}$&#%_"},
}
_TOKEN = re.compile(
    r"\\textbf\{|\\texttt\{|\}|" + "|".join(re.escape(k) for k in sorted(_READS, key=len, reverse=True))
)


def reads(tex: str) -> str:
    """What ``tex`` prints, as text: escapes as their characters, bold and code as their contents.
    Fails on a special character left raw (a "$" or "\\" outside the spellings above)."""
    out, pos, depth = [], 0, 0
    for m in [*_TOKEN.finditer(tex), None]:
        gap = tex[pos : m.start() if m else len(tex)]
        assert not set(gap) & set(r"\{}$&#%_~^<>|`[]*"), f"raw special character in {gap!r} of {tex!r}"
        out.append(gap)
        if m is None:
            break
        token, pos = m.group(0), m.end()
        if token in (r"\textbf{", r"\texttt{"):
            depth += 1
        elif token == "}":
            assert depth, f"unbalanced brace in {tex!r}"
            depth -= 1
        else:
            out.append(_READS[token])
    assert not depth, f"unclosed brace in {tex!r}"
    return "".join(out)


def md_reads(md: str) -> str:
    """What a markdown cell prints: backslash escapes as their characters, without "**"."""
    return re.sub(r"\\(.)", r"\1", md.replace("**", "")) if "\\" in md else md.replace("**", "")


def md_tables(md: str) -> dict[str, list[list[str]]]:
    """Each section's table of a markdown board, header row first, split on unescaped "|"."""
    tables: dict[str, list[list[str]]] = {}
    section = None
    for line in md.splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif line.startswith("|") and not re.fullmatch(r"[|:\- ]+", line):
            cells, cell, escaped = [], "", False
            for char in line[1:]:
                if char == "|" and not escaped:
                    cells.append(cell.strip())
                    cell = ""
                else:
                    cell += char
                escaped = char == "\\" and not escaped
            tables.setdefault(section, []).append(cells)
    return tables


def tex_tables(tex: str) -> dict[str, tuple[str, str, list[list[str]]]]:
    """Each table of a LaTeX board by its caption's first words (the section): its caption, its
    column spec and its rows (header first), split on unescaped "&"."""
    tables = {}
    for block in re.findall(r"\\begin\{table\}.*?\\end\{table\}", tex, re.S):
        short, caption = re.search(r"\\caption\[(.*?)\]\{(.*)\}\n", block).groups()
        assert caption.startswith(short) and "Protocol" not in short  # \listoftables' entry: the title alone
        spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", block).group(1)
        body = block.split("\\toprule\n")[1].split("\\bottomrule")[0]
        rows = [ln.removesuffix(r" \\") for ln in body.splitlines() if ln != r"\midrule"]
        assert all(len(re.findall(r"(?<!\\)&", row)) == len(spec) - 1 for row in rows), block
        title = caption.split(" (")[0]
        tables[title] = (caption, spec, [[c.strip() for c in re.split(r"(?<!\\)&", row)] for row in rows])
    return tables


def board(rs, dataset="toy", features=None):
    frame = results_frame(rs)
    agg = aggregate(frame)
    features = features or {("raw", "abc"): "`raw` (fingerprint abc)"}
    return (
        leaderboard_markdown(frame, agg, dataset, {}, features),
        leaderboard_latex(frame, agg, dataset, features),
    )


@pytest.mark.parametrize(
    "text", [NASTY, "ddim[eta=1,steps=100]", "fid.backend=torch-fidelity", "x---y", "\\", "`quoted`"]
)
def test_every_special_character_reads_as_itself(text):
    escaped = latex_text(text)
    assert reads(escaped) == text
    assert "--" not in escaped  # LaTeX's en dash
    # the markdown's escapes and code spans, read back as LaTeX: the same characters
    assert markdown_to_latex(md_text(text)) == escaped
    assert markdown_to_latex(md_code(text)) == rf"\texttt{{{escaped}}}"


def test_markdown_bold_code_and_unicode_become_latex():
    md = "**memorized** (seed 1 only) `kid` is MMD² × 10³, 1.5 ± 0.2 †, fid ↓ ‖ ↑"
    tex = markdown_to_latex(md)
    assert tex.startswith(r"\textbf{memorized} (seed 1 only) \texttt{kid} is MMD\textsuperscript{2}")
    assert r"1.5 $\pm$ 0.2 \dag{}, fid $\downarrow$ $\Vert$ $\uparrow$" in tex
    assert tex.isascii()
    assert markdown_to_latex("a ** b") == r"a {*}{*} b"  # unmatched: the asterisks, as markdown shows


def test_each_latex_table_has_the_markdown_tables_cells():
    """The same sections, rows in the same order, columns and cells (read as text), in both."""
    rs = [
        result("ddpm", s, 2.0 + s, samples_per_s=10.0 + s, kid=0.0328, mode_kl=0.1, authpct=60.0)
        for s in (0, 1)
    ]
    rs += [result("ddim", s, 3.0 + s / 3, variant="eta=1,steps=100", samples_per_s=99.0) for s in (0, 1)]
    rs += [result(NASTY, s, 7.0, flags=["memorized"], memorization_rate=1.0) for s in (0, 1)]
    md, tex = board(rs)
    mds, texs = md_tables(md), tex_tables(tex)
    assert list(texs) == list(mds) == ["Quality", "FID gaps", "Memorization and modes", "Cost"]
    for title, rows in mds.items():
        caption, spec, tex_rows = texs[title]
        assert [[reads(c) for c in row] for row in tex_rows] == [[md_reads(c) for c in row] for row in rows]
        numeric = [h not in ("model", "next", "seeds", "flags", "test") for h in rows[0]]
        assert spec == "".join("r" if n else "l" for n in numeric)
    assert r"ddim{[}eta=1,steps=100{]}" in tex and "ddim[" not in tex
    assert r"\textbf{memorized}" in tex and r"fid $\downarrow$" in tex and "2.50 $\\pm$ 0.71" in tex
    assert tex.isascii()  # no raw ±, arrows or †: pdflatex without inputenc extras stops at them
    assert r"\label{tab:toy-quality}" in tex and r"\label{tab:toy-memorization-and-modes}" in tex
    assert tex.startswith("% ") and "genbench report" in tex and r"\usepackage{booktabs}" in tex


def test_every_caption_names_the_protocol():
    rs = [run_result("gaussian", s, 200.0 + s, metrics={"kid": 0.5, "samples_per_s": 3.0}) for s in (0, 1, 2)]
    for r in rs:
        r.protocol["metric_options"]["fid"]["backend"] = "torch_fidelity & 100%"
    features = {("classifier", "classifier-v1"): "`classifier` (fingerprint classifier-v1)"}
    _, tex = board(rs, dataset="digits", features=features)
    tables = tex_tables(tex)
    assert list(tables) == ["Quality", "Cost"]
    for caption, _, _ in tables.values():
        said = reads(caption)
        assert "Protocol: N = 200 samples per model and seed vs the train split" in said
        assert "features: classifier (fingerprint classifier-v1); seeds 0, 1, 2" in said
        assert "cells are mean ± std (sample std, n - 1) over seeds" in said
        assert "fid.backend=torch_fidelity & 100%" in said
        assert r"\textbf{train}" in caption and r"\texttt{classifier}" in caption


def test_a_board_with_failed_diverged_and_flagged_rows():
    rs = [result("a", s, 1.0 + s) for s in (0, 1)] + [
        result("a", 2, 0.0, status="diverged", flags=["diverged"])
    ]
    rs += [result("c", s, 0.0, status="failed") for s in (0, 1)]
    rs += [result("copy", s, 0.1, flags=["memorized"]) for s in (0, 1, 2)]
    g = [run_result("g", s, 5.0) for s in (0, 1)] + [
        run_result("g", 2, metric_errors={"fid": "fid: 50% NaN"})
    ]
    for r in g:
        r.dataset = "toy"
    md, tex = board(rs + g)
    mds, texs = md_tables(md), tex_tables(tex)
    caption, _, rows = texs["Quality"]
    assert [[reads(c) for c in row] for row in rows] == [[md_reads(c) for c in row] for row in mds["Quality"]]
    flags = {reads(row[1]).split(" (")[0]: row[3] for row in rows[1:]}
    assert flags["a"] == r"\textbf{diverged} (seed 2 of 3 without samples; cells over seeds 0, 1)"
    assert flags["c"] == r"\textbf{failed} (seeds 0, 1 without samples)"
    assert flags["copy"] == r"\textbf{memorized}"
    assert any(r"5 $\pm$ 0 \dag{}" in cell for row in rows for cell in row)
    # the cell's note, in the caption of its table: a reader of the paper sees what † means
    assert "Cells marked † are not a mean over all of their row's seeds: g (" in reads(caption)
    assert "seed 2: fid: 50% NaN." in reads(caption) and r"50\% NaN" in caption


def test_a_board_without_samples_has_no_tables():
    _, tex = board([result(m, s, 0.0, status="failed") for m in ("vae", "gan") for s in (0, 1)])
    assert r"\begin{table}" not in tex and "% No tables: No run produced samples (seeds 0, 1)" in tex


def test_report_writes_the_tex_beside_the_md_and_csv(tmp_path):
    out = tmp_path / "runs"
    for r in [result("ddpm", s, 2.0 + s) for s in (0, 1)]:
        r.write(out)
    pages = write_report(out, tmp_path / "boards")
    tex = (tmp_path / "boards/toy.tex").read_text()
    assert (tmp_path / "boards/toy.csv").exists()
    assert [[reads(c) for c in row] for row in tex_tables(tex)["Quality"][2]] == [
        [md_reads(c) for c in row] for row in md_tables(pages["toy"])["Quality"]
    ]


LATEX = next((t for t in ("latexmk", "pdflatex", "tectonic") if shutil.which(t)), None)


@pytest.mark.skipif(LATEX is None, reason="needs latexmk, pdflatex or tectonic")
def test_the_board_compiles_in_a_document(tmp_path):
    """A document with booktabs alone that \\input{}s a board of every special character."""
    rs = [result(NASTY, s, 7.0, flags=["memorized"], kid=0.1, mode_kl=0.2) for s in (0, 1)]
    rs += [result("ddim", 0, 3.0, variant="eta=1,steps=100")]
    (tmp_path / "toy.tex").write_text(board(rs)[1])
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{toy.tex}\n\\end{document}\n"
    )
    command = {
        "latexmk": ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        "pdflatex": ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        "tectonic": ["tectonic", "paper.tex"],
    }[LATEX]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "paper.pdf").exists()


def test_a_labels_rows_of_other_configs_say_what_differs_in_every_caption():
    """Seeds of one label trained under two configs are two rows, "ddpm (config 1a2b3c)": the
    markdown says what differs in a section under its tables, which the .tex did not have, so a
    table in a paper showed two "ddpm (config ...)" rows and nothing told them apart."""
    rs = []
    for seed, dropout in [(0, 0.1), (1, 0.1), (2, 0.0)]:
        r = result("ddpm", seed, 2.0 + seed)
        r.config, r.training = {"dropout": dropout}, {"model_version": 1, "amp": False}
        rs.append(r)
    md, tex = board(rs)
    tables = tex_tables(tex)
    assert tables
    for caption, _, rows in tables.values():
        said = reads(caption)
        assert "trained under different configs" in said
        for label in {reads(row[1]) for row in rows[1:]}:
            assert label.startswith("ddpm (config ") and label in said.split("What differs: ")[1]
        assert ", seeds 0, 1: dropout=0.1" in said and ", seed 2: dropout=0.0." in said


def test_every_caption_names_the_runs_without_samples_and_their_errors():
    """The markdown lists each run without samples with its error under "Runs without samples"; the
    .tex had no such section, so a table in a paper said "seed 2 of 3 without samples" and nothing of
    why. Each caption says it now, escaped as the rest (an error is a plugin's text: "_", "{", "%")."""
    rs = [result("a", s, 1.0 + s) for s in (0, 1)] + [result("b", s, 3.0 + s) for s in (0, 1)]
    failed = result("a", 2, 0.0, status="failed")
    failed.error = "RuntimeError: boom_in {sample}\n  at 100%"
    rs.append(failed)
    md, tex = board(rs)
    line = "a seed 2: failed: RuntimeError: boom_in {sample} at 100%"  # on one line, as the CSV has it
    assert f"## Runs without samples\n\n- {line}\n" in md
    tables = tex_tables(tex)
    assert list(tables) == ["Quality", "FID gaps"]
    for caption, _, _ in tables.values():
        assert f"Runs without samples: {line}." in reads(caption) and r"boom\_in \{sample\}" in caption
    assert tex.isascii()
    # a board without tables lists them in its comments, which its "listed below" promised
    rs = [result("vae", s, 0.0, status="failed") for s in (0, 1)]
    rs[1].error = "ValueError: 50% NaN"
    _, tex = board(rs)
    assert tex.endswith(
        "% No tables: No run produced samples (seeds 0, 1), so there are no numbers; the errors are "
        "listed below.\n% Runs without samples:\n% - vae seed 0: failed: diverged at step 7\n"
        "% - vae seed 1: failed: ValueError: 50\\% NaN\n"
    )


def on(r, device, gpu=None, cpu="AMD EPYC", capability="AVX512", genbench="0.1.0", digest="b4f2987ae2eb241d"):
    """``r`` with the environment `genbench run` records on ``device``."""
    r.environment = {"device": device, "cpu": cpu, "cpu_capability": capability, "cpu_threads": 2}
    r.environment |= {"gpu": gpu} if gpu else {}
    r.environment |= {"genbench": genbench} if genbench else {}
    r.environment |= {"source_digest": digest} if digest else {}
    return r


def test_the_quality_caption_names_rows_of_seeds_run_on_a_cpu_and_a_gpu():
    """A CPU seed and a GPU seed draw other samples, and TF32 moves Inception features: a row
    averaging them was said to only in the Cost caption, of its timings (the old code's Quality
    caption was columns_caption alone). A CPU of another model (an instruction set apart, features
    apart around the sixth digit) is no other device; two GPU models are (TF32, cuDNN's kernels)."""
    rs = [on(result("ddpm", s, 2.0 + s), "cpu") for s in (0, 1)] + [
        on(result("ddpm", 2, 4.0), "cuda:0", "NVIDIA H100")
    ]
    rs += [
        on(result("gan", 0, 20.0), "cpu"),
        on(result("gan", 1, 23.0), "cpu", cpu="Intel Xeon", capability="AVX2"),
    ]
    rs += [
        on(result("vae", 0, 30.0), "cuda:0", "NVIDIA H100"),
        on(result("vae", 1, 31.0), "cuda", "Tesla V100"),
    ]
    md, tex = board(rs)
    said = (
        "The Quality cells of `ddpm` (seeds 0, 1 on CPU, seed 2 on NVIDIA H100) and `vae` (seed 0 on "
        "NVIDIA H100, seed 1 on Tesla V100) average seeds run on different devices"
    )
    quality = md[md.index("## Quality") : md.index("\n|", md.index("## Quality"))]
    assert said in quality and "`gan`" not in quality
    caption = reads(tex_tables(tex)["Quality"][0])
    assert md_reads(said).replace("`", "") in caption
    assert "different devices" not in reads(tex_tables(tex)["FID gaps"][0])  # the Quality table's alone
    # every seed on the CPU (of two models), or a device not recorded: nothing said, as before
    md, _ = board([r for r in rs if r.model == "gan"] + [result("copy", s, 0.0) for s in (0, 1)])
    assert "different devices" not in md


def test_rows_of_seeds_run_by_two_genbench_releases_are_named_in_markdown_and_latex():
    """Seeds scored by genbench 0.0.9 and 0.1.0 share a row when no metric's version changed; the CSV's
    *_source columns said "genbench 0.0.9; genbench 0.1.0" and the boards nothing (the old code's
    sources_markdown named code from other packages only). Two source digests of one release differ
    too; a seed that recorded no digest is named with its source "not recorded"."""
    rs = [on(result("ddpm", s, 2.0 + s), "cpu") for s in (0, 1)] + [
        on(result("ddpm", 2, 4.0), "cpu", genbench="0.0.9", digest="deadbeef0000")
    ]
    rs += [on(result("gan", 0, 20.0), "cpu"), on(result("gan", 1, 23.0), "cpu", digest=None)]
    rs += [on(result("vae", 0, 30.0), "cpu"), on(result("vae", 1, 31.0), "cpu", digest="0123456789ab")]
    md, tex = board(rs)
    section = md.split("## Seeds run by different genbench code\n\n")[1]
    # what a reader does about it: rerun one code's seeds with the other's genbench
    rerun = "rerun the other seeds with the genbench that ran the rest (`genbench run --models MODEL"
    assert rerun in section.splitlines()[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("- ")]
    assert lines == [
        "- `ddpm`: seeds 0, 1 by genbench 0.1.0 (source b4f2987ae2eb241d); seed 2 by genbench 0.0.9 "
        "(source deadbeef0000)",
        # named for its release, as the board's rows were run by two, and its unknown source
        "- `gan`: seed 0 by genbench 0.1.0 (source b4f2987ae2eb241d); seed 1 by genbench 0.1.0 "
        "(source not recorded)",
        "- `vae`: seed 0 by genbench 0.1.0 (source b4f2987ae2eb241d); seed 1 by genbench 0.1.0 (source "
        "0123456789ab)",
    ]
    for caption, _, _ in tex_tables(tex).values():
        said = reads(caption)
        assert "run by different genbench releases or sources" in said
        assert all(md_reads(ln[2:]).replace("`", "") + "." in said for ln in lines)
    # one release and source throughout (the published boards): no section, no caption
    md, tex = board([r for r in rs if r.model == "ddpm" and r.seed < 2])
    assert "genbench code" not in md and "genbench releases" not in tex


def test_a_seed_of_no_recorded_source_beside_one_of_todays_is_named_in_markdown_and_latex():
    """A seed whose result records no source digest (written before genbench recorded it), or no
    genbench at all, beside seeds of today's digest got no line on a board of one release, while two
    digests got one: the code that ran it is unknown, so it may differ all the same."""
    rs = [on(result("gan", 0, 20.0), "cpu"), on(result("gan", 1, 23.0), "cpu", digest=None)]
    rs += [on(result("vae", s, 30.0 + s), "cpu") for s in (0, 1)]
    rs.append(on(result("vae", 2, 32.0), "cpu", genbench=None, digest=None))
    rs += [on(result("copy", s, 0.1), "cpu", digest=None) for s in (0, 1)]  # both unknown: no line
    md, tex = board(rs)
    section = md.split("## Seeds run by different genbench code\n\n")[1]
    assert "records no source (written before genbench recorded it)" in section.splitlines()[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("- ")]
    assert lines == [
        "- `gan`: seed 0 by genbench 0.1.0 (source b4f2987ae2eb241d); seed 1 by genbench 0.1.0 "
        "(source not recorded)",
        "- `vae`: seeds 0, 1 by genbench 0.1.0 (source b4f2987ae2eb241d); seed 2 by a genbench that "
        "recorded no release",
    ]
    for caption, _, _ in tex_tables(tex).values():
        said = reads(caption)
        assert all(md_reads(ln[2:]).replace("`", "") + "." in said for ln in lines)


def test_rows_each_run_by_another_genbench_release_are_named_in_markdown_and_latex():
    """A row whose every seed genbench 0.0.9 ran, beside rows of 0.1.0: its numbers are compared
    across sampling and training code that the metrics' versions do not track, and neither board
    said so (only rows mixing releases within their seeds were named). Rows of one release whose
    sources differ (the published boards' controls, rerun later) stay unnamed."""
    old = {"genbench": "0.0.9", "digest": "deadbeef0000"}
    rs = [on(result("ddpm", s, 2.0 + s), "cpu") for s in (0, 1)]
    rs += [on(result("gan", s, 20.0 + s), "cpu", **old) for s in (0, 1)]
    md, tex = board(rs)
    section = md.split("## Seeds run by different genbench code\n\n")[1]
    assert "each row names its own" in section.splitlines()[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("- ")]
    assert lines == [
        "- `ddpm`: seeds 0, 1 by genbench 0.1.0 (source b4f2987ae2eb241d)",
        "- `gan`: seeds 0, 1 by genbench 0.0.9 (source deadbeef0000)",
    ]
    for caption, _, _ in tex_tables(tex).values():
        said = reads(caption)
        assert "each row names its own" in said
        assert all(md_reads(ln[2:]).replace("`", "") + "." in said for ln in lines)
    # one release, rows of two sources: nothing said, as before
    rs = [on(result("ddpm", s, 2.0 + s), "cpu") for s in (0, 1)]
    rs += [on(result("gan", s, 20.0 + s), "cpu", digest="0123456789ab") for s in (0, 1)]
    md, tex = board(rs)
    assert "genbench code" not in md and "genbench releases" not in tex


def test_every_caption_names_the_seeds_that_scored_other_weights_than_the_shipped_ones():
    """The markdown names them in "Weights other than the shipped ones" under its tables; the .tex
    said nothing, so a paper's table built from a cache of locally trained checkpoints read as the
    published board's numbers. Each caption says which rows and seeds, and how to score the shipped
    weights."""
    rs = [result("gan-ns", s, 40.0 + s) for s in (0, 1)] + [result("vae", s, 100.0 + s) for s in (0, 1)]
    rs[0].training = {"weights_digest": "1111", "shipped_digest": "2222"}  # the cache's, other weights
    rs[1].training = {"weights_digest": "2222", "shipped_digest": "2222"}  # the cache's copy of them
    rs[2].training = {"weights_digest": "3333"}  # none of its key ships: nothing to compare
    md, tex = board(rs)
    section = md.split("## Weights other than the shipped ones\n\n")[1]
    assert [ln for ln in section.splitlines() if ln.startswith("- ")] == ["- `gan-ns`: seed 0"]
    tables = tex_tables(tex)
    assert tables
    for caption, _, _ in tables.values():
        said = reads(caption)
        assert "whose shipped checkpoint holds other weights" in said and "empty cache" in said
        assert said.count("gan-ns: seed 0.") == 1 and "vae: seed" not in said, said
    # the shipped weights throughout: no section, no caption
    md, tex = board(rs[1:])
    assert "shipped" not in md and "shipped" not in tex


def test_the_boards_unicode_symbols_are_latexs_own_spellings():
    """Each symbol a board writes, as LaTeX spells it (written by hand here, not read from the
    converter's table): a minus sign is math's ``$-$`` (a "-" prints a hyphen, shorter), an en and
    an em dash are ``--`` and ``---``, an ellipsis ``\\ldots{}``."""
    assert latex_text("−0.5") == "$-$0.5"
    assert latex_text("1–2") == "1--2"
    assert latex_text("a—b") == "a---b"
    assert latex_text("x…") == r"x\ldots{}"
    assert latex_text("≈ ≤ ≥ Δ") == r"$\approx$ $\leq$ $\geq$ $\Delta$"


@pytest.mark.parametrize(
    ("md", "tex"),
    [
        ("`  `", r"\texttt{  }"),  # spaces alone: nothing stripped (CommonMark 0.31, 6.1)
        ("` `", r"\texttt{ }"),
        ("`  a  `", r"\texttt{ a }"),  # one space from each end, no more
        ("` a`", r"\texttt{ a}"),  # a space at one end only: kept
        ("``a`b``", r"\texttt{a\textasciigrave{}b}"),  # ends at a run of as many backticks
    ],
)
def test_code_spans_keep_the_spaces_commonmark_keeps(md, tex):
    assert markdown_to_latex(md) == tex


def test_a_tabular_is_booktabs_rules_around_a_header_and_rows_with_empty_missing_cells():
    """The tabular, line for line as booktabs lays one out (toprule, header, midrule, rows,
    bottomrule); a missing value (None, NaN) an empty cell, as the markdown's ``missingval=""``."""
    cells = pd.DataFrame({"model": ["a_b", None], "fid": ["1.5", float("nan")], "n": [3, 4]})
    assert latex_tabular(cells, ["left", "right", "right"]) == [
        r"\begin{tabular}{lrr}",
        r"\toprule",
        r"model & fid & n \\",
        r"\midrule",
        r"a\_b & 1.5 & 3 \\",
        r" &  & 4 \\",
        r"\bottomrule",
        r"\end{tabular}",
    ]


def test_a_datasets_name_is_escaped_in_the_short_caption_and_slugged_in_the_label():
    """The short caption (``\\caption[...]``, \\listoftables' entry) escaped as the long one: a "&"
    or "%" there broke the document."""
    rs = [result("ddpm", s, 2.0 + s) for s in (0, 1)]
    for r in rs:
        r.dataset = "R&D 100%"
    _, tex = board(rs, dataset="R&D 100%")
    assert r"\caption[Quality (R\&D 100\% leaderboard).]{" in tex
    assert r"\label{tab:r-d-100-quality}" in tex
