"""Mistakes in YAML files: every problem at once, each with file:line, key path and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.errors import Problem, SpecError
from thresher.specs import Kind, load_spec, parse_spec


def _problems(path: Path, kind: Kind = "batch_deployment", overrides: tuple[str, ...] = ()) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_spec(path, kind, overrides=overrides)
    return caught.value


def test_three_mistakes_are_reported_together_with_lines(yaml_dir: Path) -> None:
    path = yaml_dir / "errors" / "three-mistakes.yml"
    error = _problems(path)

    assert error.problems == [
        Problem(
            str(path),
            9,
            "settings.mini_bach_size",
            "unknown key 'mini_bach_size'; did you mean 'mini_batch_size'?",
        ),
        Problem(str(path), 10, "settings.mini_batch_size", "settings.mini_batch_size is 0; it must be at least 1."),
        Problem(
            str(path),
            12,
            "settings.logging_level",
            "settings.logging_level is 'verbose'; it must be one of 'debug', 'info' or 'warning'.",
        ),
    ]
    assert str(error).startswith("The three-mistakes.yml has 3 problems:")
    assert f"{path}:9: " in str(error)
    assert error.fix == "Correct the keys above in three-mistakes.yml and run the command again."


def test_summary_only_with_output_file_name_is_an_error(yaml_dir: Path) -> None:
    path = yaml_dir / "errors" / "summary-only-with-file.yml"
    (problem,) = _problems(path).problems

    assert (problem.line, problem.path) == (6, "settings.output_file_name")
    assert "summary_only" in problem.message and "'predictions.csv'" in problem.message


def test_syntax_error_is_one_problem_with_its_line(yaml_dir: Path) -> None:
    path = yaml_dir / "errors" / "broken-syntax.yml"
    (problem,) = _problems(path).problems

    assert problem.source == str(path)
    assert problem.line == 6
    assert "not valid YAML" in problem.message


def test_top_level_list_and_missing_file_and_empty_file(yaml_dir: Path, tmp_path: Path) -> None:
    (listed,) = _problems(yaml_dir / "errors" / "top-level-list.yml").problems
    assert listed.line == 1 and "top level is a list" in listed.message

    (missing,) = _problems(tmp_path / "nowhere.yml").problems
    assert missing.source == str(tmp_path / "nowhere.yml") and "does not exist" in missing.message

    (tmp_path / "empty.yml").write_text("# nothing yet\n")
    (empty,) = _problems(tmp_path / "empty.yml").problems
    assert "empty" in empty.message


def test_schema_of_another_kind_is_reported(yaml_dir: Path) -> None:
    (problem,) = _problems(yaml_dir / "errors" / "endpoint-schema-for-deployment.yml").problems

    assert (problem.line, problem.path) == (1, "$schema")
    assert "batch endpoint" in problem.message and "batch deployment" in problem.message


def test_registry_reference_says_to_register_locally(yaml_dir: Path) -> None:
    (problem,) = _problems(yaml_dir / "errors" / "registry-model.yml").problems

    assert (problem.line, problem.path) == (3, "model")
    assert "registries are not reachable offline" in problem.message
    assert "locally" in problem.message


def test_datastore_type_needs_its_keys(yaml_dir: Path) -> None:
    path = yaml_dir / "errors" / "datastore-missing-container.yml"
    (problem,) = _problems(path, "datastore").problems

    assert (problem.line, problem.path) == (1, "")
    assert problem.message == (
        "required key 'container_name' is missing; type azure_blob needs account_name and container_name."
    )


def test_misspelled_datastore_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = tmp_path / "datastore.yml"
    path.write_text("name: blob\ntype: azure_blob\naccount_name: acc\ncontainr_name: data\n")
    (problem,) = _problems(path, "datastore").problems

    assert (problem.line, problem.path) == (4, "containr_name")
    assert problem.message == "unknown key 'containr_name'; did you mean 'container_name'?"


def test_compute_min_above_max(yaml_dir: Path) -> None:
    (problem,) = _problems(yaml_dir / "errors" / "compute-range.yml", "compute").problems

    assert (problem.line, problem.path) == (3, "min_instances")
    assert problem.message.startswith("min_instances is 4, above max_instances 2")


def test_legacy_setting_given_twice(yaml_dir: Path) -> None:
    (problem,) = _problems(yaml_dir / "errors" / "legacy-twice.yml").problems

    assert (problem.line, problem.path) == (3, "mini_batch_size")
    assert "both at the top level and under settings" in problem.message


def test_legacy_mistakes_point_at_the_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "legacy.yml"
    path.write_text("name: old\nmodel: azureml:m:1\nretry_settings:\n  timeout: 0\nlogging_level: loud\n")
    problems = _problems(path).problems

    assert [(p.line, p.path) for p in problems] == [(4, "retry_settings.timeout"), (5, "logging_level")]


def test_settings_key_at_the_top_of_a_typed_deployment(tmp_path: Path) -> None:
    path = tmp_path / "typed.yml"
    path.write_text("name: typed\ntype: model\nmodel: azureml:m:1\nmini_batch_size: 5\n")
    (problem,) = _problems(path).problems

    assert (problem.line, problem.path) == (4, "mini_batch_size")
    assert "settings.mini_batch_size" in problem.message


def test_missing_required_key_and_wrong_types(tmp_path: Path) -> None:
    path = tmp_path / "model.yml"
    path.write_text("version: 1\ntags: [a, b]\ntype: onnx\n")
    problems = _problems(path, "model").problems

    messages = {p.path: p.message for p in problems}
    assert messages[""] in ("required key 'name' is missing.", "required key 'path' is missing.")
    assert {p.message for p in problems if p.path == ""} == {
        "required key 'name' is missing.",
        "required key 'path' is missing.",
    }
    assert messages["tags"] == "tags is a list; it must be a mapping (key: value)."
    assert "'custom_model', 'mlflow_model' or 'triton_model'" in messages["type"]


def test_inline_model_mistake_names_inline_keys(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yml"
    path.write_text("name: blue\ntype: model\nmodel:\n  name: m\n  paht: model\n")
    problems = _problems(path).problems

    assert [(p.line, p.path, p.message) for p in problems] == [
        (3, "model", "required key 'model.path' is missing."),
        (5, "model.paht", "unknown key 'paht'; did you mean 'path'?"),
    ]


def test_overrides_that_break_the_spec_are_blamed_on_set(yaml_dir: Path) -> None:
    path = yaml_dir / "mnist-torch" / "deployment.yml"
    error = _problems(path, overrides=("settings.retry_settings.timeout=0", "settings.mini_bach_size=5", "oops"))

    assert {(p.source, p.line, p.path) for p in error.problems} == {
        ("--set", None, "settings.retry_settings.timeout"),
        ("--set", None, "settings.mini_bach_size"),
        ("--set", None, "oops"),
    }
    assert error.fix == "Correct the --set values above and run the command again."


def test_specs_from_flags_have_no_lines(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"name": "x", "auth_mode": "token"}, "batch_endpoint", base_dir=tmp_path)

    assert [(p.source, p.line, p.path) for p in caught.value.problems] == [
        ("<flags>", None, "auth_mode"),
        ("<flags>", None, "name"),
    ]
    assert "3 to 32" in caught.value.problems[1].message


def test_pipeline_settings_mistake_points_at_settings(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text("name: p\ntype: pipeline\ncomponent: azureml:hello:1\nsettings:\n  default_compte: cpu\n")
    (problem,) = _problems(path).problems

    assert (problem.line, problem.path) == (5, "settings.default_compte")
    assert problem.message == "unknown key 'default_compte'; did you mean 'default_compute'?"
