"""Browser assets for the explorer, so that it works with no internet.

Solara loads a few front-end libraries from a CDN. The `solara-assets` package installs copies
of most of them into Solara's asset folder (`<prefix>/share/solara/cdn`). Those it lacks are
fetched here from the npm registry (`npm pack`) and unpacked into the same folder.

    python -m sim.webassets          # install what is missing (needs npm)
    python -m sim.webassets --check  # only report; exit 1 if something is missing
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: npm packages Solara 1.58 requests from its CDN that solara-assets 1.58.2 does not ship
NEEDED = ("katex@0.16.9",)


def cdn_dir() -> Path:
    return Path(sys.prefix) / "share" / "solara" / "cdn"


def missing() -> list[str]:
    return [spec for spec in NEEDED if not (cdn_dir() / spec / "package.json").exists()]


def install(spec: str) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch browser assets: install Node.js and npm")
    dest = cdn_dir() / spec
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", spec, "--pack-destination", tmp, "--silent"], check=True,
                       cwd=tmp, stdout=subprocess.DEVNULL)
        (tgz,) = Path(tmp).glob("*.tgz")
        staging = Path(tmp) / "unpacked"
        with tarfile.open(tgz) as tar:
            tar.extractall(staging, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging / "package"), dest)
    return dest


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    todo = missing()
    if "--check" in argv:
        print("browser assets: " + ("all present" if not todo else "missing " + ", ".join(todo)))
        return 1 if todo else 0
    for spec in todo:
        print(f"fetching {spec} from the npm registry into {cdn_dir()}")
        install(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
