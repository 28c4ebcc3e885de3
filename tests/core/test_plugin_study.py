"""A study kind from a package alignlab has never heard of: installed (a dist-info with an entry point of
the group ``alignlab``), found by the registry and run by ``alignlab run`` — no alignlab file names it."""

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""A plugin's registering module: one study kind with one stage."""
from pydantic import BaseModel, ConfigDict, Field

from alignlab.core import Stage, register


class HelloConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, ge=0, description="Seed (set by the spec's 'seeds').")
    greeting: str = Field("hello", description="What the cell logs.")


def _greet(ctx):
    ctx.log(0, "letters", float(len(ctx.config.greeting)))
    return {"said": ctx.config.greeting}


@register("study", "hello_plugin/hello")
class HelloStudy:
    """Greets, once per cell."""

    name = "hello_plugin/hello"
    config_class = HelloConfig
    example_spec = "study: hello_plugin/hello\\nname: hi\\n"

    def check(self, spec):
        pass

    def stages(self, config):
        return [Stage("greet", config.model_dump(mode="json"), _greet)]

    def report(self, study):
        return []
'''


def _install_plugin(site: Path) -> None:
    """What ``pip install hello-plugin`` would leave in site-packages: the package and its metadata."""
    (site / "hello_plugin").mkdir()
    (site / "hello_plugin" / "__init__.py").write_text("")
    (site / "hello_plugin" / "_registry.py").write_text(PLUGIN)
    info = site / "hello_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[alignlab]\nhello_plugin = hello_plugin._registry\n")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_plugin_study_kind_runs_with_alignlab_run(tmp_path, workers):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    spec = tmp_path / "hello.yaml"
    spec.write_text(textwrap.dedent("""\
        study: hello_plugin/hello
        name: greetings
        seeds: 2
        greeting: [hi, hello]
    """))
    out = tmp_path / "study"
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "ALIGNLAB_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "alignlab.cli", "run", str(spec), "--out", str(out), "--workers", str(workers)]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    with sqlite3.connect(out / "results.sqlite") as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM cells")]
        said = sorted(row[0] for row in db.execute("SELECT result FROM stages WHERE name = 'greet'"))
    assert statuses == ["done"] * 4
    assert said == ['{"said": "hello"}', '{"said": "hello"}', '{"said": "hi"}', '{"said": "hi"}']


def test_an_unknown_plugin_option_fails_before_the_study_starts(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_plugin(site)
    spec = tmp_path / "hello.yaml"
    spec.write_text("study: hello_plugin/hello\nname: typo\ngreting: hi\n")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "alignlab.cli", "run", str(spec), "--out", str(tmp_path / "s")],
                         capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "did you mean 'greeting'" in run.stderr
    assert "Traceback" not in run.stderr
