"""The kit and a plugin outside the kit's checkout: the kit built as sdist and wheel
(`python -m build`, with no packaging warning), a plugin scaffolded by `cowin-kit plugin
new` built as a wheel, both installed into a fresh venv (pip printing no warning about
them), where `cowin-kit plugin list` needs no instance or production secrets and the
plugin's own test passes against the installed kit. Building and installing need the
Python package index: skipped offline on a developer's machine, failed under CI=true."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cowin_kit.cli import main

REPO = Path(__file__).resolve().parents[2]
# what the copy of the checkout leaves out: these folders of the repository's root (not,
# say, the package cowin_kit/plugins), and caches anywhere
TOP_LEFT_OUT = {".git", ".venv", "node_modules", "instance", "test-artifacts", "dist", "build",
                "tests", "bench", "plugins"}
CACHES = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache")


def LEFT_OUT(folder, names):
    left_out = set(CACHES(folder, names))
    if Path(folder).resolve() == REPO.resolve():
        left_out |= TOP_LEFT_OUT & set(names)
    return left_out
# the machine's pip configuration may name index folders that do not exist: not ours
PIP_NOISE = re.compile(r"WARNING: Location '.*' is ignored")


def _outside_env() -> dict:
    """This process's environment without what points at this checkout or an instance."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("COWIN_KIT_")}


def _run(command: list, *, cwd: Path, env: dict | None = None, timeout: int = 900):
    return subprocess.run([str(c) for c in command], cwd=cwd,
                          env=_outside_env() if env is None else env, capture_output=True,
                          text=True, timeout=timeout)


def _needs_index(done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode == 0:
        return
    output = done.stdout[-3000:] + done.stderr[-3000:]
    offline = re.search(r"(?i)(connection|network|resolve|name or service|no matching "
                        r"distribution|could not find a version)", output)
    if offline and os.environ.get("CI") != "true":
        pytest.skip(f"{what} needs the package index: {output[-400:]}")
    pytest.fail(f"{what} failed:\n{output}")


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if re.search(r"(?i)\bwarning\b", line) and not PIP_NOISE.search(line)
            and "byte-compiling is disabled" not in line]


def test_kit_and_plugin_wheels_install_and_the_plugin_test_passes(tmp_path):
    source = tmp_path / "cowin-kit"
    shutil.copytree(REPO, source, ignore=LEFT_OUT)
    built = _run([sys.executable, "-m", "build", "--outdir", tmp_path / "dist", source],
                 cwd=tmp_path)
    _needs_index(built, "python -m build (the kit)")
    assert _warnings(built.stdout + built.stderr) == []
    (wheel,) = (tmp_path / "dist").glob("cowin_kit-*.whl")
    assert list((tmp_path / "dist").glob("cowin_kit-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("cowin_kit/migrations/env.py", "cowin_kit/locales/messages.pot",
                   "cowin_kit/locales/hi/LC_MESSAGES/messages.mo",
                   "cowin_kit/web/templates/web/base.html", "cowin_kit/web/static/field/verify.js",
                   "cowin_kit/templates/api_docs.html", "cowin_kit/static/api-docs/docs.js",
                   "cowin_kit/plugins/__init__.py", "cowin_kit/core/pdf_fpdf2.py",
                   "cowin_kit/static/vendor/swagger-ui/swagger-ui-bundle.js",
                   "cowin_kit/static/vendor/swagger-ui/LICENSE"):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]

    scaffolded = CliRunner().invoke(main, ["plugin", "new", "thank-you", "-o", tmp_path])
    assert scaffolded.exit_code == 0, scaffolded.output
    project = tmp_path / "cowin-kit-thank-you"
    plugin_built = _run([sys.executable, "-m", "build", "--wheel", "--outdir",
                         tmp_path / "dist", project], cwd=tmp_path)
    _needs_index(plugin_built, "python -m build (the plugin)")
    assert _warnings(plugin_built.stdout + plugin_built.stderr) == []
    (plugin_wheel,) = (tmp_path / "dist").glob("cowin_kit_thank_you-*.whl")

    venv = tmp_path / "fresh"
    assert _run([sys.executable, "-m", "venv", venv], cwd=tmp_path).returncode == 0
    python, cowin_kit_cli = venv / "bin" / "python", venv / "bin" / "cowin-kit"
    installed = _run([python, "-m", "pip", "install", "--disable-pip-version-check",
                      wheel, plugin_wheel, "pytest>=8"], cwd=tmp_path)
    _needs_index(installed, "pip install (kit and plugin wheels)")
    assert _warnings(installed.stdout + installed.stderr) == []
    where = _run([python, "-c", "import cowin_kit; print(cowin_kit.__file__)"], cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel, not this checkout

    # read-only local commands: no instance folder, no secrets, ENV production (default)
    bare = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    listed = _run([cowin_kit_cli, "plugin", "list"], cwd=tmp_path,
                  env={**bare, "COWIN_KIT_PLUGINS": "thank-you"})
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "thank-you  cowin-kit-thank-you 0.1.0  [enabled #1]" in listed.stdout.splitlines()
    assert not (tmp_path / "instance").exists()

    tested = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                  cwd=project, env={**bare, "COWIN_KIT_EXAMPLES_DIR":
                                    str(REPO / "examples" / "countries")})
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert re.search(r"\b1 passed\b", tested.stdout), tested.stdout
