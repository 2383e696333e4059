"""A job's settings skip pydantic's plugin scan only when no pydantic plugin is installed.

Installed plugins (distributions declaring a ``pydantic`` entry point) still see every validator,
the job's settings included; without any, a no-op job never imports pydantic's plugin loader.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from brevettiai.settings._plugins import no_plugins_installed

PLUGIN = textwrap.dedent("""
    import sys

    class Plugin:
        def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, plugin_settings):
            print("plugin saw", schema_type.__name__, file=sys.stderr)
            return None, None, None

    plugin = Plugin()
""")

JOB = textwrap.dedent("""
    import sys, tempfile
    from pydantic import BaseModel
    from brevettiai import Job, JobSettings

    class Settings(JobSettings):
        epochs: int = 3

    class Train(Job):
        settings: Settings

    job = Train.init(job_dir=tempfile.mkdtemp(), argv=["--epochs", "4"], log_level=30)
    job.start()
    assert job.settings.epochs == 4 and job.state.status == "completed"
    print(" ".join(m for m in ("importlib.metadata", "pydantic.plugin._loader") if m in sys.modules))

    class Later(BaseModel):  # a validator of the user's own, built after the job's
        x: int = 1

    assert Later(x="2").x == 2
""")


def _run(code: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYDANTIC_DISABLE_PLUGINS")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def _install_plugin(folder: Path) -> None:
    (folder / "recording_plugin.py").write_text(PLUGIN)
    info = folder / "recording_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recording-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nrecording = recording_plugin:plugin\n")


ANSWERS = ("from importlib.metadata import entry_points\n"
           "from brevettiai.settings._plugins import no_plugins_installed\n"
           "print(no_plugins_installed(), not entry_points(group='pydantic'))")


def test_the_answer_is_importlib_metadatas() -> None:
    # In a fresh interpreter of this environment (which has no pydantic plugin) both say "none".
    assert _run(ANSWERS).stdout.split() == ["True", "True"]
    # Here, after other tests imported more (dask's importlib_metadata adds a finder of distributions the
    # search cannot see through), it may only be unsure, never wrong: "none" only when there is none.
    if no_plugins_installed():
        assert not entry_points(group="pydantic")


def test_an_unknown_finder_of_distributions_makes_it_unsure() -> None:
    code = ("import sys\nfrom brevettiai.settings._plugins import no_plugins_installed\n"
            "class Finder:\n    def find_distributions(self, context=None):\n        return iter(())\n"
            "print(no_plugins_installed()); sys.meta_path.append(Finder()); print(no_plugins_installed())")
    assert _run(code).stdout.split() == ["True", "False"]


def test_without_plugins_a_job_never_imports_the_plugin_loader() -> None:
    assert _run(JOB).stdout.split() == []  # a fresh interpreter of this environment, which has no plugin


def test_an_installed_plugin_sees_the_job_settings_and_later_models(tmp_path: Path) -> None:
    _install_plugin(tmp_path)
    result = _run(JOB, tmp_path)
    assert "plugin saw Settings" in result.stderr and "plugin saw Later" in result.stderr
    assert "pydantic.plugin._loader" in result.stdout.split()


def test_a_plugin_found_only_in_a_zip_on_the_path_is_left_to_pydantic(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("recording_plugin.py", PLUGIN)
        zipped.writestr("recording_plugin-1.0.dist-info/METADATA", "Name: recording-plugin\nVersion: 1.0\n")
        zipped.writestr("recording_plugin-1.0.dist-info/entry_points.txt", "[pydantic]\nr = recording_plugin:plugin\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert no_plugins_installed() is False
    assert "plugin saw Settings" in _run(JOB, archive).stderr


def test_a_plugin_folder_on_the_path_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_plugin(tmp_path)
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path)])
    assert no_plugins_installed() is False
