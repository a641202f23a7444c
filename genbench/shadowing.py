"""An entry point's package shadowed by another of the same name that comes first on ``sys.path``.

``python -m genbench`` and a user's script put their folder first on ``sys.path``, so a research
project's own ``baselines/`` package (a common name) is what ``import baselines`` finds, not the one
genbench installed: every reference model failed to import, and the error said to fix or uninstall
genbench, which is not what is broken.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib import metadata

from genbench.distributions import installed_files


def shadowing(ep: metadata.EntryPoint) -> str | None:
    """Why ``ep`` failed to import when its top-level package was found elsewhere than in the
    distribution that declares it, naming both places; None when it was not, or when that cannot
    be told (an editable install lists none of its package's files)."""
    dist = ep.dist
    top = ep.module.partition(".")[0]
    if dist is None or not top:
        return None
    own = installed_files(dist, top)
    found = _imported_from(top)
    if not own or found is None or os.path.realpath(found) in own:
        return None
    return (
        f"the {top!r} Python imported is {found}, not {dist.name}'s ({own[0]}): a folder or module "
        f"of that name in the current directory or on PYTHONPATH comes first; run from another "
        f"directory or rename it"
    )


def _imported_from(top: str) -> str | None:
    """The file the top-level module ``top`` was (or would be) imported from; None for a namespace
    package, which never shadows a regular one."""
    module = sys.modules.get(top)
    if module is not None:
        return getattr(module, "__file__", None)
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None
