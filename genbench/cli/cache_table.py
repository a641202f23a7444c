"""`genbench list cache`: the table of :func:`genbench.cache_entries`, one row an entry (its kind,
what it is, its size, when last used, its path under the cache), the total and where it is."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from genbench.cache_listing import CacheEntry, CacheListing
from genbench.text import printable


def cache_table(cache_dir: Path | None, data_dir: Path | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from genbench import cache_entries
    from genbench.progress import make_console

    listing = cache_entries(cache_dir, data_dir)
    console = make_console()
    # the folder's name as written: "[red]" in it is no markup, "\x1b[2J" no escape sequence
    table = Table(title=escape(printable(f"cache: {listing.cache_dir}")), title_justify="left")
    table.add_column("kind", no_wrap=True)
    table.add_column("what", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("last used", no_wrap=True)
    table.add_column("path", overflow="fold")
    for e in listing.entries:
        table.add_row(
            e.kind,
            escape(printable(_what(e, listing))),  # a checkpoint's config values: a plugin's
            size_text(e.size),
            _when(e.last_used),
            escape(printable(_shown(e.path, listing))),
        )
    console.print(table)
    n = len(listing.entries)
    console.print(
        printable(
            f"{n} {'entry' if n == 1 else 'entries'}, {size_text(listing.size)} in all; "
            f"cache: {listing.cache_dir} "
            f"(--cache-dir, $GENBENCH_CACHE), datasets: {listing.data_dir} (--data-dir, $GENBENCH_DATA)"
        ),
        markup=False,
    )
    kinds = [k for k in dict.fromkeys(e.kind for e in listing.entries)]
    if kinds:
        console.print(
            "deleting an entry (rm -r PATH, once no genbench process uses it) costs: "
            + "; ".join(f"{k}: {_cost(listing, k)}" for k in kinds),
            markup=False,
        )
    for kind, why in _DELETE:
        paths = [e.path for e in listing.entries if e.kind == kind]
        if paths:  # one line, unwrapped, to paste as it is
            rm = " ".join(["rm", *(shell_word(str(p)) for p in paths)])
            said = why.format(n=len(paths), files="file" if len(paths) == 1 else "files")
            console.print(f"{said}: {rm}", markup=False, soft_wrap=True)


#: the features files whose deletion the listing advises, with why, in one command each kind
_DELETE = (
    ("stale features", "{n} stale features {files}, never read by this genbench, safe to delete"),
    (
        "unrecorded features",
        "{n} features {files} written before genbench recorded how a key is made: whether this genbench "
        "reads them is unknown (one it does not read only takes disk space; a run that needs one "
        "extracts it again)",
    ),
)


def shell_word(text: str) -> str:
    """``text`` as one word of a shell command to paste, printable: quoted as ``shlex.quote`` does,
    or where it holds a character a terminal acts on (a control character, a line break) in bash's
    and zsh's ``$'...'`` with that character as its escape (``$'a\\x1bb'``), which the shell reads
    back as the character. Quoted raw, a cache folder named ``"c\\x1b[2J"`` cleared the terminal
    when the line was printed, and a line break in a name split the command. A byte of a name that
    is no UTF-8, which Python reads as a surrogate (``"\\udce9"``), is written as that byte
    (``\\xe9``): bash reads ``\\udce9`` as three other bytes."""
    if printable(text) == text:
        return shlex.quote(text)
    return "$'" + "".join(_shell_char(c) for c in text) + "'"


def _shell_char(c: str) -> str:
    """One character of :func:`shell_word`'s ``$'...'``."""
    if c in "\\'":
        return "\\" + c
    if "\udc80" <= c <= "\udcff":  # os.fsdecode's escape of a byte no UTF-8 text has
        return f"\\x{ord(c) - 0xDC00:02x}"
    return printable(c)


def _cost(listing: CacheListing, kind: str) -> str:
    return next(e.if_deleted for e in listing.entries if e.kind == kind)


def _what(e: CacheEntry, listing: CacheListing) -> str:
    """A checkpoint's words, with the training config fields in which it differs from the other
    checkpoints of its model and dataset (the key alone told two configs apart)."""
    if e.config is None:
        return e.what
    same = [
        o.config
        for o in listing.entries
        if o.config is not None and o.path.parent == e.path.parent and o.path != e.path
    ]
    differ = [k for k in e.config if any(c.get(k) != e.config[k] for c in same)]
    return e.what + "".join(f", {k}={e.config[k]}" for k in differ)


def _shown(path: Path, listing: CacheListing) -> str:
    """``path`` under the cache or the data dir as relative to it, any other whole."""
    for root in (listing.cache_dir, listing.data_dir):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)


def size_text(n: int) -> str:
    """``n`` bytes as ``du -h`` writes them, in powers of 1024: 512 B, 4.0 KiB, 570.3 MiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "?"
