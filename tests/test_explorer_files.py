"""What the explorer may read and write: only regular scenario files inside scenarios/ and the
user folder, after symlinks are resolved; saving creates one new file and nothing else. Each
class of escape is tried with real symlinks, FIFOs, devices and folders in temporary folders."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from sim.cli import explorer_environment, host_warning, main
from sim.explorer import files
from sim.explorer import logic as explorer
from sim.explorer.files import FileRefused, Folders
from sim.scenario import ScenarioError

from .conftest import ROOT

SECRET = "TOPSECRET-51c2e8"
BASELINE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture
def place(tmp_path):
    """A user folder, and beside it (outside) a folder holding a secret scenario-like file."""
    user = tmp_path / "user"
    outside = tmp_path / "outside"
    user.mkdir()
    outside.mkdir()
    (outside / "secret.yaml").write_text(f"api_key: {SECRET}\nname: {SECRET}\n")
    (outside / "passwd").write_text(f"root:x:0:0:{SECRET}:/root:/bin/bash\n")
    (user / "mine.yaml").write_text("extends: " + os.path.relpath(BASELINE, user)
                                    + "\nname: mine\n")
    return Folders.of(user), user, outside


def _tree(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _no_secret(e: BaseException):
    text = e.format() if isinstance(e, ScenarioError) else str(e)
    assert SECRET not in text
    assert "Traceback" not in text


# ----------------------------------------------------------------------------- reading


def test_files_inside_are_found(place):
    folders, user, _ = place
    assert files.find(folders, "mine.yaml") == user / "mine.yaml"
    assert files.find(folders, str(user / "mine.yaml")) == user / "mine.yaml"
    assert files.find(folders, "baseline.yaml") == BASELINE  # the shipped ones
    assert files.find(folders, "scenarios/baseline.yaml") == BASELINE
    assert explorer.load(folders, "mine.yaml").name == "mine"  # extends a shipped scenario


@pytest.mark.parametrize("path", [
    "/etc/passwd", "/etc/hostname", "../outside/secret.yaml", "../../../../../../etc/passwd",
    "scenarios/../../../etc/passwd", "~/.bashrc", "/dev/zero", "/proc/self/environ",
    "{outside}/secret.yaml", "{outside}/passwd", "{user}/../outside/secret.yaml", "/",
])
def test_paths_outside_the_folders_are_refused(place, path):
    folders, user, outside = place
    path = path.format(user=user, outside=outside)
    with pytest.raises(FileRefused, match="outside the folders") as e:
        files.find(folders, path)
    _no_secret(e.value)
    with pytest.raises(FileRefused):
        explorer.load(folders, path)


def test_symlinks_are_judged_by_where_they_lead(place):
    folders, user, outside = place
    (user / "leak.yaml").symlink_to(outside / "secret.yaml")
    (user / "device.yaml").symlink_to("/dev/zero")
    (user / "dir").symlink_to(outside, target_is_directory=True)
    (user / "dangling.yaml").symlink_to(user / "gone.yaml")
    (user / "shipped.yaml").symlink_to(BASELINE)  # leads inside: allowed
    for name in ("leak.yaml", "device.yaml", "dir/secret.yaml"):
        with pytest.raises(FileRefused, match="outside the folders") as e:
            files.find(folders, name)
        _no_secret(e.value)
    with pytest.raises(FileRefused, match="no such file"):
        files.find(folders, "dangling.yaml")
    assert files.find(folders, "shipped.yaml") == BASELINE


def test_only_regular_yaml_files_under_the_size_cap(place):
    folders, user, _ = place
    (user / "folder.yaml").mkdir()
    os.mkfifo(user / "pipe.yaml")
    (user / "big.yaml").write_text("name: big\n" + "#" * files.MAX_BYTES)
    (user / "notes.txt").write_text("name: notes\n")
    (user / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    cases = {"folder.yaml": "a folder", "pipe.yaml": "not a regular file",
             "big.yaml": "larger than", "notes.txt": "ends in .yaml", ".": "ends in .yaml"}
    done = threading.Event()

    def attempt():  # a FIFO must be refused at once, not wait for a writer
        for name, words in cases.items():
            with pytest.raises(FileRefused, match=words):
                files.find(folders, name)
        done.set()

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout=10)
    assert done.is_set(), "the explorer hung on a FIFO (or failed: see above)"


def test_a_device_is_refused_even_inside_a_permitted_folder():
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        assert stat.S_ISCHR(os.fstat(fd).st_mode)
        with pytest.raises(FileRefused, match="not a regular file"):
            files._check_regular(fd, "null.yaml")
    finally:
        os.close(fd)


def test_a_component_swapped_for_a_symlink_after_the_check_is_not_followed(place):
    """`realpath` then open is a race; the open walks the path with O_NOFOLLOW, so a folder
    replaced by a link between the two is refused, not followed."""
    folders, user, outside = place
    (user / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(FileRefused, match="cannot be opened"):
        with files._open_below(folders, user / "sub" / "secret.yaml", os.O_RDONLY):
            pass
    (user / "link.yaml").symlink_to(outside / "secret.yaml")
    with pytest.raises(FileRefused, match="cannot be opened"):
        with files._open_below(folders, user / "link.yaml", os.O_RDONLY):
            pass


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b.yaml", "x" * 2000 + ".yaml", 7, None])
def test_malformed_paths(place, bad):
    folders, _, _ = place
    with pytest.raises(FileRefused):
        files.find(folders, bad)


def test_extends_cannot_leave_the_folders(place):
    """A file inside may not pull a parent from outside: refused before the parent is opened,
    so nothing of it (not even its keys, through validation messages) reaches the page."""
    folders, user, outside = place
    (user / "up.yaml").write_text("extends: ../outside/secret.yaml\nname: up\n")
    (user / "abs.yaml").write_text(f"extends: {outside}/passwd\nname: abs\n")
    (user / "etc.yaml").write_text("extends: /etc/passwd\nname: etc\n")
    (user / "leak.yaml").symlink_to(outside / "secret.yaml")
    (user / "via_link.yaml").write_text("extends: leak.yaml\nname: via_link\n")
    (user / "chain.yaml").write_text("extends: up.yaml\nname: chain\n")
    for name in ("up.yaml", "abs.yaml", "etc.yaml", "via_link.yaml", "chain.yaml"):
        with pytest.raises(ScenarioError, match="outside the folders") as e:
            explorer.load(folders, name)
        _no_secret(e.value)
    # and the same files, loaded without confinement (the command line), do reach outside:
    # the test would not notice a loader that ignored `within`
    with pytest.raises(ScenarioError) as e:
        explorer.load_scenario(user / "up.yaml")
    assert SECRET in e.value.format() or "api_key" in e.value.format()


def test_extends_of_a_missing_file_outside_says_nothing_about_it(place):
    folders, user, _ = place
    (user / "probe.yaml").write_text("extends: /etc/no_such_file.yaml\nname: probe\n")
    with pytest.raises(ScenarioError) as e:
        explorer.load(folders, "probe.yaml")
    assert "outside the folders" in e.value.format() and "not found" not in e.value.format()


# ----------------------------------------------------------------------------- writing


def test_save_creates_one_new_regular_file(place):
    folders, user, _ = place
    path = files.save_text(folders, "new.yaml", "name: new\n")
    assert path == user / "new.yaml" and path.read_text() == "name: new\n"
    assert stat.S_ISREG(os.lstat(path).st_mode)
    (user / "sub").mkdir()
    assert files.save_text(folders, "sub/deeper.yaml", "name: d\n") == user / "sub" / "deeper.yaml"


@pytest.mark.parametrize("dest, words", [
    ("../outside/evil.yaml", "saved only in"),
    ("{outside}/evil.yaml", "saved only in"),
    ("/tmp/evil.yaml", "saved only in"),
    ("{scenarios}/evil.yaml", "saved only in"),  # not the shipped scenarios either
    ("newfolder/evil.yaml", "does not exist"),
    ("a/b/c/evil.yaml", "does not exist"),
    ("evil.txt", "ending in .yaml"),
    (".hidden.yaml", "ending in .yaml"),
    ("evil .yaml", "ending in .yaml"),
    ("mine.yaml", "exists already"),
    ("linkdir/evil.yaml", "saved only in"),
    ("dangling.yaml", "symbolic link"),
    ("link_to_mine.yaml", "symbolic link"),
    ("fifo.yaml", "exists already"),
])
def test_save_refuses(place, dest, words):
    folders, user, outside = place
    (user / "linkdir").symlink_to(outside, target_is_directory=True)
    (user / "dangling.yaml").symlink_to(outside / "created_through_link.yaml")
    (user / "link_to_mine.yaml").symlink_to(user / "mine.yaml")
    os.mkfifo(user / "fifo.yaml")
    before_user, before_outside = _tree(user), _tree(outside)
    mine = (user / "mine.yaml").read_bytes()
    dest = dest.format(outside=outside, scenarios=ROOT / "scenarios")
    with pytest.raises(FileRefused, match=words):
        files.save_text(folders, dest, "name: evil\n")
    assert _tree(user) == before_user and _tree(outside) == before_outside  # nothing created
    assert (user / "mine.yaml").read_bytes() == mine
    assert not (ROOT / "scenarios" / "evil.yaml").exists()


def test_save_of_an_invalid_scenario_leaves_nothing(place):
    folders, user, _ = place
    loaded = explorer.load(folders, "baseline.yaml")
    before = _tree(user)
    with pytest.raises(ScenarioError):
        explorer.save_scenario(folders, loaded, BASELINE, ["israel.threat.Nowhere=0.5"],
                               "bad.yaml", "bad")
    assert _tree(user) == before


# ----------------------------------------------------------------------------- the folders


def test_user_folder_must_exist_and_is_never_created(tmp_path):
    with pytest.raises(FileRefused, match="not found"):
        Folders.of(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileRefused, match="not a folder"):
        Folders.of(tmp_path / "file")
    with pytest.raises(FileRefused, match="too broad"):
        Folders.of("/")
    default = Folders.of(None)
    assert default.user == default.scenarios == (ROOT / "scenarios").resolve()


def test_explore_command_checks_its_folder_and_warns_beyond_localhost(tmp_path, monkeypatch,
                                                                      capsys):
    pytest.importorskip("solara")
    assert main(["explore", "--no-open", "--user-folder", str(tmp_path / "nope")]) == 2
    assert "--user-folder" in capsys.readouterr().err
    calls = []
    monkeypatch.setattr(os, "execve", lambda exe, cmd, env: calls.append((cmd, {"env": env})))
    monkeypatch.chdir(tmp_path)
    assert main(["explore", "--no-open", "--host", "0.0.0.0", "--user-folder",
                 str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "no authentication" in err
    cmd, kw = calls[-1]
    assert "--no-check-version" in cmd  # no "new version available" against the pinned one
    assert kw["env"][files.USER_FOLDER_ENV] == str(tmp_path.resolve())
    assert kw["env"]["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert main(["explore", "--no-open"]) == 0
    assert "WARNING" not in capsys.readouterr().err  # the default listens on loopback only


@pytest.mark.parametrize("host, warned", [
    ("127.0.0.1", False), ("localhost", False), ("::1", False), ("127.0.0.2", False),
    ("0.0.0.0", True), ("::", True), ("192.168.1.20", True), ("name.invalid", True),
])
def test_host_warning(host, warned):
    assert (host_warning(host, 8765) is not None) == warned


def test_the_server_environment_is_quiet(place):
    folders, _, _ = place
    env = explorer_environment(folders)
    assert "samesite" in env["PYTHONWARNINGS"]


def test_the_server_environment_names_only_its_own_virtualenv(place, monkeypatch):
    """A VIRTUAL_ENV inherited from another environment (IPython warns of it every session) is
    not passed on; the server's own is kept."""
    import sys

    folders, _, _ = place
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/else/.venv")
    assert "VIRTUAL_ENV" not in explorer_environment(folders)
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    assert explorer_environment(folders)["VIRTUAL_ENV"] == sys.prefix
