"""Paths given to the command lines: ``~`` in flag values and ``--set``
items, empty output folders, the folders a writability check leaves, and the
errors a missing package or an unwritable folder becomes (one line, exit 1)."""

import os

import pytest
from absl import flags

from keras_pose import cli
from keras_pose.errors import MissingPackageError, NotWritableError, UserError, import_required


@pytest.fixture
def home(tmp_path, monkeypatch):
    """HOME is a temporary folder; absl's FLAGS a fresh set holding one path
    flag and ``--set`` (as train.py, evaluate.py and predict.py define it)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    values = flags.FlagValues()
    flags.DEFINE_string("output_dir", None, "", flag_values=values)
    flags.DEFINE_multi_string("set", [], "", flag_values=values)
    monkeypatch.setattr(flags, "FLAGS", values)
    return str(folder), values


def test_a_bare_tilde_as_a_flag_value_is_the_home_folder(home):
    """``--output_dir=~`` (no shell expands after ``=``) is the home folder, not a folder
    named ``~``."""
    folder, values = home
    values(["prog", "--output_dir=~"])
    cli._expand_home()
    # os.path.expanduser's definition: "~" alone is $HOME.
    assert values.output_dir == folder


def test_a_tilde_path_in_a_set_item_is_under_the_home_folder(home):
    """``--set data.root=~/coco`` is under the home folder, not in a folder named ``~``."""
    folder, values = home
    values(["prog", "--set=made_up.key=~/a", "--set=other.key=plain"])
    cli._expand_home()
    # "~/a" with HOME=<folder> is <folder>/a; an item without "~" is kept as given.
    assert values.set == ["made_up.key=" + os.path.join(folder, "a"), "other.key=plain"]


def test_an_output_folder_of_blanks_is_refused_as_empty_and_nothing_is_made(tmp_path, monkeypatch):
    """``--output_dir " "`` (a quoted unset variable) is refused as empty; no folder of blanks."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cli.OutputDirectoryError, match="^--output_dir is empty: give a folder$"):
        cli.check_writable("  ", "--output_dir")
    assert os.listdir(tmp_path) == []


def test_the_check_removes_only_the_folders_it_made_not_the_users_empty_parent(tmp_path):
    """An empty ``runs/`` the user made stays; only the folders the check made in it go."""
    runs = tmp_path / "runs"
    runs.mkdir()
    cli.check_writable_leaving_no_folder(str(runs / "a" / "b"), "--model_dir")
    assert runs.is_dir()  # The user's: kept, though empty.
    assert not (runs / "a").exists()  # Made by the check (a/ and a/b/): gone.


def test_a_missing_package_named_by_a_submodule_is_a_missing_package_error():
    """``keras_hub.models`` with keras_hub absent is a missing package (one line), not a
    traceback."""
    # Python's ImportError.name for "no_such_pkg_xyz.models" is the top package, "no_such_pkg_xyz".
    with pytest.raises(MissingPackageError, match="pip install no-such-pkg"):
        import_required("no_such_pkg_xyz.models", "no-such-pkg", "the made-up feature")


def test_an_unwritable_folder_is_one_error_line_and_exit_code_1(capsys):
    """A read-only cache folder ends a command in one line (exit 1), not a traceback."""
    assert issubclass(NotWritableError, UserError)

    def work():
        raise NotWritableError("cannot write into the cache /ro: set KERAS_POSE_CACHE")

    assert cli.run("tool.py", work) == 1
    assert capsys.readouterr().err == (
        "tool.py: error: cannot write into the cache /ro: set KERAS_POSE_CACHE\n")
