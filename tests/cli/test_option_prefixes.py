"""az's option prefixes: any unambiguous prefix of a long option names it, for every command, as az
accepts (``--endpoint`` for ``--endpoint-name``, ``--f`` for ``--file``); an exact name always wins, an
ambiguous prefix is an error naming the candidates, and short options and values are left alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from thresher.cli.groups import GROUPS, load

Cli = Callable[..., Result]

DEPLOYMENT = """\
name: blue
endpoint_name: scorer
type: model
model: azureml:clf@latest
code_configuration:
  code: code
  scoring_script: score.py
environment: azureml:env:1
compute: azureml:cluster
"""


@pytest.fixture
def project(tmp_path: Path, cli: Cli) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "clf.pkl").write_text("weights")
    (tmp_path / "model.yml").write_text("name: clf\npath: model\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("def init():\n    pass\n\n\ndef run(batch):\n    return batch\n")
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - pip:\n    - pandas\n")
    (tmp_path / "endpoint.yml").write_text("name: scorer\n")
    (tmp_path / "deployment.yml").write_text(DEPLOYMENT)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    return tmp_path


def test_a_prefix_of_a_long_option_names_it(cli: Cli, project: Path) -> None:
    created = cli("model", "create", "--f", "model.yml", "--o", "json")
    assert created.code == 0, created.err
    assert created.json()["name"] == "clf"
    assert cli("batch-endpoint", "create", "--fi=endpoint.yml").code == 0
    for prefix in ("--n", "--na", "--nam"):
        shown = cli("batch-endpoint", "show", prefix, "scorer", "--que", "name", "-o", "tsv")
        assert (shown.code, shown.out.strip()) == (0, "scorer"), shown.err


def test_azure_scripts_prefixes_of_endpoint_and_deployment_names_work(cli: Cli, project: Path) -> None:
    assert cli("model", "create", "-f", "model.yml").code == 0
    assert cli("environment", "create", "--name", "env", "--conda", "conda.yaml").code == 0
    assert cli("compute", "create", "--na", "cluster", "--ty", "amlcompute", "--max-inst", "2").code == 0
    assert cli("batch-endpoint", "create", "-f", "endpoint.yml").code == 0
    created = cli("batch-deployment", "create", "--file", "deployment.yml", "--endpoint", "scorer", "--set-def")
    assert created.code == 0, created.err
    listed = cli("batch-deployment", "list", "--endpoint", "scorer", "--query", "[].name", "-o", "tsv")
    assert listed.out.split() == ["blue"]
    shown = cli("batch-endpoint", "show", "--name", "scorer", "--query", "defaults.deployment_name", "-o", "tsv")
    assert shown.out.strip() == "blue"
    # --deployment is --deployment-name: the deployment it names is looked up (and is not there).
    invoked = cli("batch-endpoint", "invoke", "--name", "scorer", "--deployment", "green", "--input=data")
    assert invoked.code == 1
    assert "green" in invoked.err and "blue" in invoked.err, invoked.err


def test_an_exact_name_wins_over_the_longer_options_it_begins(cli: Cli, project: Path) -> None:
    assert cli("batch-endpoint", "create", "-f", "endpoint.yml").code == 0
    # --set is also the start of --set-default; --name of nothing longer, --output of --output-path.
    updated = cli("batch-endpoint", "update", "--name", "scorer", "--set", "description=scores", "--output", "json")
    assert updated.code == 0, updated.err
    assert updated.json()["description"] == "scores"


def test_an_ambiguous_prefix_is_an_error_naming_the_candidates(cli: Cli, project: Path) -> None:
    assert cli("batch-endpoint", "create", "-f", "endpoint.yml").code == 0
    result = cli("batch-endpoint", "invoke", "--n", "scorer", "--inp", "data")
    assert result.code == 2
    assert "--inp is ambiguous: --input, --input-type" in result.err
    assert "thresher batch-endpoint invoke" in result.err  # the command's own usage line
    assert cli("job", "list", "-o", "json").json() == []  # nothing was queued
    unknown = cli("batch-endpoint", "show", "--nombre", "scorer")
    assert unknown.code == 2 and "No such option: --nombre" in unknown.err


def test_short_options_and_option_values_are_left_as_written(cli: Cli, project: Path) -> None:
    # "-n" is not a prefix of anything; "--no-wait" and "--f" here are values, not options.
    created = cli("model", "create", "-n", "m", "-p", "model", "--description", "--no-wait", "-o", "json")
    assert created.code == 0, created.err
    assert created.json()["description"] == "--no-wait"
    tagged = cli("model", "create", "-n", "m2", "-p", "model", "--set", "description=--f", "-o", "json")
    assert tagged.code == 0, tagged.err
    assert tagged.json()["description"] == "--f"


def test_azure_only_options_are_ignored_by_prefix_too(cli: Cli, project: Path) -> None:
    assert cli("batch-endpoint", "create", "-f", "endpoint.yml").code == 0
    shown = cli(
        "batch-endpoint", "show", "--n", "scorer", "--workspace", "ws", "--resource", "rg", "--subsc", "0000",
        "--only-show", "--query", "name", "-o", "tsv",
    )  # fmt: skip
    assert (shown.code, shown.out.strip()) == (0, "scorer"), shown.err


@pytest.mark.local_only("help and option parsing happen before any workspace is opened")
def test_help_still_works_whole_and_by_prefix(cli: Cli) -> None:
    for args in (["--help"], ["batch-endpoint", "--help"], ["batch-endpoint", "show", "--help"]):
        result = cli(*args)
        assert result.code == 0, result.err
        assert "Usage: thresher" in result.out
    by_prefix = cli("batch-endpoint", "show", "--he")
    assert by_prefix.code == 0 and "Usage: thresher batch-endpoint show" in by_prefix.out


def _commands() -> list[tuple[str, str, str, int]]:
    """(group, command, a long option's shortest unique prefix, how many values it takes), one per command."""
    picked = []
    for group_name in GROUPS:
        for command_name, command in load(group_name).commands.items():
            options = [p for p in command.params if p.param_type_name == "option"]
            longs = {name: p for p in options for name in p.opts if name.startswith("--")}
            for name, param in sorted(longs.items()):
                others = [other for other in longs if other != name]
                prefix = next(
                    (name[:size] for size in range(3, len(name)) if not any(o.startswith(name[:size]) for o in others)),
                    None,
                )
                if prefix is not None:
                    picked.append((group_name, command_name, prefix, 0 if param.is_flag else param.nargs))
                    break
    return picked


@pytest.mark.local_only("help and option parsing happen before any workspace is opened")
def test_every_command_of_every_group_takes_prefixes(cli: Cli) -> None:
    commands = _commands()
    assert {group for group, *_ in commands} == set(GROUPS)
    for group, command, prefix, values in commands:
        # Click reads every option before it acts on --help: an unknown one would fail the line.
        result = cli(group, command, prefix, *["x"] * values, "--help")
        assert result.code == 0, f"thresher {group} {command} {prefix}: {result.err}"
        assert f"Usage: thresher {group} {command}" in result.out
