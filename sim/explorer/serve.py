"""Start the explorer's Solara server (`run.py explore` runs `python -m sim.explorer.serve run
APP ...`, the arguments of `solara run`), with Solara's asset proxy made read-only.

Solara serves its front-end files from a cache folder at `/_solara/cdn/<path>`, and for a path
it does not hold, it fetches the file from a public CDN and writes it into the cache; for a path
that names a folder, it deletes the folder first (Solara 1.58, `cdn_helper.get_path`). Any
browser client could so delete the installed assets (breaking the page for everyone), make the
server download any npm package, and fill its disk. Here the proxy serves only files that are
already installed (`solara-assets`, and KaTeX from `webassets`): anything else is a 404.
"""

from __future__ import annotations

import sys
from pathlib import Path


def installed_only(base_cache_dir, path) -> Path:
    """The installed asset file for `path`, or an error (which Solara answers with a 404):
    never a download, never a deletion, nothing outside the cache folder."""
    base = Path(base_cache_dir).resolve()
    parts = str(path).replace("\\", "/").split("/")
    # as Solara stores them: a bare package name means its main file
    store = Path(*parts) if len(parts) != 1 else Path(parts[0]) / "__main.js"
    candidate = (base / store).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        raise FileNotFoundError(f"no installed asset {path}")
    return candidate


def installed_data(base_cache_dir, path) -> bytes:
    return installed_only(base_cache_dir, path).read_bytes()


def harden() -> None:
    """Replace Solara's fetching-and-deleting asset lookup by `installed_only`. This must run
    before Solara's server module is imported (`solara run` imports it later), since that
    module imports `get_path` by name: it then takes this one. Importing the server module
    here would set up the app before `solara run` has configured it."""
    import solara.server.cdn_helper as cdn_helper

    assert "solara.server.starlette" not in sys.modules, "harden() must come first"
    cdn_helper.get_path = installed_only
    cdn_helper.get_data = installed_data


def main(argv: list[str] | None = None) -> None:
    harden()
    from solara.__main__ import main as solara_main

    sys.argv = ["solara", *(sys.argv[1:] if argv is None else argv)]
    solara_main()


if __name__ == "__main__":
    main()
