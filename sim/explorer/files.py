"""The only files the explorer may touch: scenario files inside the project's `scenarios/` folder
and one user folder (`run.py explore --user-folder PATH`, default `scenarios/`).

The page is served to browsers, and a browser client may send any text as a path, so every
path is resolved (symlinks included) and must land inside a permitted folder before anything is
opened. Only regular `.yaml`/`.yml` files up to `MAX_BYTES` are read. Files are opened
component by component with O_NOFOLLOW below the resolved folder, so a path swapped for a
symlink between the check and the open is refused rather than followed. Saving creates one new
file in an existing folder of the user folder (O_CREAT|O_EXCL|O_NOFOLLOW: never an existing
file, never through a symlink, never a new folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = ROOT / "scenarios"
#: largest scenario file the explorer reads (the shipped ones are under 30 KB)
MAX_BYTES = 1 << 20
#: longest path the page accepts
MAX_PATH = 1024
#: the environment variable through which `run.py explore` tells the page its user folder
USER_FOLDER_ENV = "ISF_EXPLORER_USER_FOLDER"
SUFFIXES = (".yaml", ".yml")
# a saved file's name: letters, digits, and . _ - inside; no leading dot, no separators
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.ya?ml", re.ASCII)


class FileRefused(PermissionError):
    """A path the explorer will not read or write; its text is a plain message for the page
    (it never holds the content of any file)."""


@dataclass(frozen=True)
class Folders:
    """The permitted folders, resolved: `scenarios` (the project's) and `user`."""

    scenarios: Path
    user: Path

    @classmethod
    def of(cls, user: str | Path | None = None) -> Folders:
        """The project's scenarios/ and `user` (default: scenarios/); the user folder must be
        an existing folder (it is never created) and not the file system's root."""
        scenarios = SCENARIOS.resolve(strict=True)
        if user is None or str(user).strip() == "":
            return cls(scenarios, scenarios)
        given = Path(user).expanduser()
        if not given.is_absolute():
            given = Path.cwd() / given
        try:
            real = given.resolve(strict=True)
        except (OSError, RuntimeError):
            raise FileRefused(f"user folder {user}: not found") from None
        if not real.is_dir():
            raise FileRefused(f"user folder {user}: not a folder")
        if real == Path(real.anchor):
            raise FileRefused(f"user folder {user}: the file system's root is too broad; "
                              "choose a folder of scenario files")
        return cls(scenarios, real)

    @classmethod
    def from_environment(cls) -> Folders:
        return cls.of(os.environ.get(USER_FOLDER_ENV) or None)

    @property
    def roots(self) -> tuple[Path, ...]:
        return (self.user,) if self.user == self.scenarios else (self.scenarios, self.user)

    def describe(self) -> str:
        return " and ".join(_shown(r) for r in self.roots)

    def shown(self, path: Path) -> str:
        """A path as the page shows it: relative to the project when inside it."""
        return _shown(path)


def _shown(path: Path) -> str:
    text = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return text + "/" if path.is_dir() and not text.endswith("/") else text


def _clean(text, what: str) -> str:
    if not isinstance(text, str):
        raise FileRefused(f"{what}: not a path")
    text = text.strip()
    if not text:
        raise FileRefused(f"{what}: no path given")
    if len(text) > MAX_PATH:
        raise FileRefused(f"{what}: a path of {len(text):,} characters is too long")
    if any(not c.isprintable() for c in text):
        raise FileRefused(f"{what}: the path holds control characters")
    return text


def _containing_root(real: Path, roots: tuple[Path, ...]) -> Path | None:
    return next((r for r in roots if real == r or real.is_relative_to(r)), None)


def _candidates(folders: Folders, text: str) -> list[Path]:
    p = Path(text).expanduser() if text.startswith("~") else Path(text)
    if p.is_absolute():
        return [p]
    # relative: to the user folder first, then to the project's scenarios/, then to the project
    # folder (so that "scenarios/baseline.yaml" works as it does on the command line)
    out = [folders.user / p, folders.scenarios / p]
    if p.parts and p.parts[0] == "scenarios":
        out.append(ROOT / p)
    return out


def find(folders: Folders, text: str) -> Path:
    """The resolved path of an existing scenario file named by `text` (a path relative to the
    user folder or to scenarios/, or an absolute path), checked: inside a permitted folder
    after symlinks, a regular .yaml/.yml file, at most MAX_BYTES."""
    text = _clean(text, "scenario file")
    inside: Path | None = None
    leads_out = False
    for candidate in _candidates(folders, text):
        real = Path(os.path.realpath(candidate))
        if _containing_root(real, folders.roots) is None:
            # a link inside a permitted folder that leads out (only looked at when the link
            # itself is inside, so that nothing is learnt about what exists outside)
            lexical = Path(os.path.abspath(candidate))
            leads_out |= _containing_root(lexical, folders.roots) is not None and \
                os.path.lexists(lexical)
            continue
        if inside is None or os.path.lexists(real):
            inside = real
        if os.path.lexists(real):
            break
    if inside is None or (leads_out and not os.path.lexists(inside)):
        how = "leads outside" if leads_out else "outside"
        raise FileRefused(f"{text}: {how} the folders the explorer may read "
                          f"({folders.describe()})")
    if not os.path.lexists(inside):
        raise FileRefused(f"{text}: no such file in {folders.describe()}")
    if inside.suffix.lower() not in SUFFIXES:
        raise FileRefused(f"{text}: a scenario file ends in .yaml or .yml")
    with _open_below(folders, inside, os.O_RDONLY) as fd:
        _check_regular(fd, text)
    return inside


def _check_regular(fd: int, text: str) -> None:
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise FileRefused(f"{text}: a folder, not a scenario file")
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(f"{text}: not a regular file (devices, pipes and sockets are refused)")
    if st.st_size > MAX_BYTES:
        raise FileRefused(f"{text}: larger than {MAX_BYTES // 1024:,} KiB")


@contextlib.contextmanager
def _open_below(folders: Folders, real: Path, flags: int, mode: int = 0o644
                ) -> Iterator[int]:
    """Open `real` (already resolved and inside a root) one component at a time from its root,
    refusing to follow any symlink on the way: a component replaced by a symlink after
    `realpath` is refused, not followed. Non-blocking, so that a FIFO cannot hang the page."""
    root = _containing_root(real, folders.roots)
    if root is None:  # pragma: no cover - callers check first
        raise FileRefused(f"{real}: outside the permitted folders")
    parts = real.relative_to(root).parts
    if not parts:
        raise FileRefused(f"{_shown(real)}: a folder, not a scenario file")
    nofollow = os.O_NOFOLLOW | os.O_CLOEXEC
    fds: list[int] = []
    try:
        fds.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY | nofollow))
        for part in parts[:-1]:
            fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=fds[-1]))
        fd = os.open(parts[-1], flags | nofollow | os.O_NONBLOCK, mode, dir_fd=fds[-1])
    except FileExistsError:
        raise FileRefused(f"{_shown(real)} exists already: choose another name") from None
    except FileNotFoundError:
        raise FileRefused(f"{_shown(real)}: no such file or folder") from None
    except OSError as e:  # ELOOP (a symlink), ENOTDIR, EACCES, ENXIO (a FIFO with no reader)
        raise FileRefused(f"{_shown(real)}: cannot be opened ({os.strerror(e.errno)})") \
            from None
    finally:
        for d in fds:
            os.close(d)
    try:
        yield fd
    finally:
        os.close(fd)


def save_text(folders: Folders, text: str, content: str) -> Path:
    """Create a new file named by `text` (relative to the user folder, or absolute inside it)
    holding `content`; its folder must exist inside the user folder. Never overwrites, never
    follows a symlink, never creates a folder."""
    text = _clean(text, "save as")
    p = Path(text)
    target = p if p.is_absolute() else folders.user / p
    if not _SAFE_NAME.fullmatch(target.name):
        raise FileRefused(f"{text}: a file name is letters, digits, '.', '_' and '-', ending "
                          "in .yaml (e.g. my_scenario.yaml)")
    parent = Path(os.path.realpath(target.parent))
    if _containing_root(parent, (folders.user,)) is None:
        raise FileRefused(f"{text}: files are saved only in {_shown(folders.user)}")
    if not parent.is_dir():
        raise FileRefused(f"{text}: the folder {_shown(parent)} does not exist (the explorer "
                          "creates no folders)")
    real = parent / target.name
    if os.path.islink(real):
        raise FileRefused(f"{text}: a symbolic link is there; the explorer writes no file "
                          "through a link")
    if os.path.lexists(real):
        raise FileRefused(f"{_shown(real)} exists already: choose another name")
    data = content.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise FileRefused(f"{text}: the settings are too large to save")
    sub = Folders(folders.user, folders.user)  # writes go below the user folder only
    with _open_below(sub, real, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    return real


def remove(folders: Folders, real: Path) -> None:
    """Delete a file this module just saved (when it fails validation)."""
    if _containing_root(real, (folders.user,)) is not None:
        with contextlib.suppress(OSError):
            os.unlink(real)


def listing(folders: Folders) -> list[str]:
    """The scenario files the page offers by name: the shipped ones, then the user folder's
    (as paths relative to it), regular files only."""
    names = []
    for root in folders.roots:
        with contextlib.suppress(OSError):
            for entry in sorted(os.scandir(root), key=lambda e: e.name):
                if entry.name.endswith(SUFFIXES) and entry.is_file(follow_symlinks=False) \
                        and entry.name not in names:
                    names.append(entry.name)
    return names
