"""Resolving dependency files into what thresher builds: Python request, pip requirements, notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.environments.conda import as_pip_requirement, load_conda_file
from thresher.environments.resolve import (
    from_asset_info,
    from_conda,
    from_folder,
    from_python_env,
    read_python_env,
    read_requirements,
)
from thresher.errors import ThresherError

AZURE_CONDA = {
    "name": "batch-env",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.8.5",
        "pip<=26.3",
        {
            "pip": [
                "azureml-core==1.48.0",
                "azureml-defaults",
                "azureml-dataset-runtime[fuse]",
                "AzureML_MLflow>=1.0",
                "inference-schema[numpy-support]==1.5",
                "scikit-learn==1.5.2",
                "mlflow==2.9.2",
            ]
        },
    ],
}


def test_conda_python_and_pip_list_with_azure_packages_left_out_in_one_note() -> None:
    resolved = from_conda(AZURE_CONDA, "conda.yaml")
    assert resolved.python_request == "3.8.5"
    assert resolved.python_origin == "python=3.8.5 in conda.yaml"
    # mlflow stays mlflow in an environment asset: the swap is for MLflow model folders only;
    # pip<=26.3 brings pip (that version), setuptools and wheel, as conda's pip package does
    assert resolved.requirements == ["pip<=26.3", "setuptools<82", "wheel", "scikit-learn==1.5.2", "mlflow==2.9.2"]
    assert len(resolved.notes) == 2
    note = resolved.notes[1]
    for package in ("azureml-core==1.48.0", "azureml-defaults", "azureml-dataset-runtime[fuse]", "inference-schema"):
        assert package in note
    assert "shadow the shim" in note


@pytest.mark.parametrize(
    ("entry", "request_"),
    [
        ("python", None),
        ("python=3.8", "3.8"),
        ("python==3.11.7", "3.11.7"),
        ("python=3.10.4=h12_0", "3.10.4"),
        ("conda-forge::python 3.9", "3.9"),
        ("python=3.12.*", "3.12"),
        ("python>=3.9,<3.13", ">=3.9,<3.13"),
    ],
)
def test_conda_python_forms(entry: str, request_: str | None) -> None:
    assert from_conda({"dependencies": [entry, "pip"]}, "conda.yaml").python_request == request_


def test_conda_only_packages_are_listed_with_lines_and_pip_forms(tmp_path: Path) -> None:
    conda = tmp_path / "conda.yaml"
    conda.write_text(
        "name: env\ndependencies:\n  - python=3.11\n  - numpy=1.26\n  - pip\n  - cudatoolkit=11.3.1\n"
        "  - pip:\n    - pandas==2.2.3\n"
    )
    with pytest.raises(ThresherError) as caught:
        load_conda_file(conda)
    message, fix = caught.value.message, caught.value.fix or ""
    assert "numpy=1.26 (line 4)" in message and "cudatoolkit=11.3.1 (line 6)" in message
    assert "only conda installs" in message
    assert "- numpy==1.26.*" in fix and "- cudatoolkit==11.3.1" in fix


@pytest.mark.parametrize(
    ("entry", "pip"),
    [
        ("pip", "pip"),
        ("pip=23.0", "pip==23.0.*"),  # conda's =X.Y is any X.Y.z
        ("pip==23.0.1", "pip==23.0.1"),
        ("pip>=21", "pip>=21"),
        ("conda-forge::pip 24.2", "pip==24.2.*"),
        ("pip=*", "pip"),
    ],
)
def test_a_conda_file_that_lists_pip_gets_pip_setuptools_and_wheel(entry: str, pip: str) -> None:
    resolved = from_conda({"dependencies": ["python=3.8", entry, {"pip": ["six==1.16.0"]}]}, "conda.yaml")
    assert resolved.requirements == [pip, "setuptools<82", "wheel", "six==1.16.0"]
    assert len(resolved.notes) == 1
    assert f"conda.yaml lists {entry}" in resolved.notes[0] and "pkg_resources" in resolved.notes[0]


def test_pip_setuptools_and_wheel_pinned_in_the_pip_list_win() -> None:
    pins = ["Setuptools==69.5.1", "wheel>=0.40", "six==1.16.0"]
    resolved = from_conda({"dependencies": ["pip=23.0", {"pip": pins}]}, "conda.yaml")
    assert resolved.requirements == ["pip==23.0.*", *pins]
    assert "Added pip==23.0.*:" in resolved.notes[0]
    resolved = from_conda({"dependencies": ["pip", {"pip": ["pip==24.0", "setuptools", "wheel"]}]}, "conda.yaml")
    assert (resolved.requirements, resolved.notes) == (["pip==24.0", "setuptools", "wheel"], [])


def test_a_conda_file_without_pip_gets_only_its_pip_list() -> None:
    resolved = from_conda({"dependencies": ["python=3.11", {"pip": ["six==1.16.0"]}]}, "conda.yaml")
    assert (resolved.requirements, resolved.notes) == (["six==1.16.0"], [])


@pytest.mark.parametrize(
    ("conda", "pip"),
    [
        ("numpy=1.21", "numpy==1.21.*"),
        ("numpy=1.21.5", "numpy==1.21.5"),
        ("numpy==1.2=py_0", "numpy==1.2"),
        ("numpy", "numpy"),
        ("numpy>=1.2", "numpy>=1.2"),
        ("conda-forge::numpy 1.21", "numpy==1.21.*"),
        ("numpy=*", "numpy"),
    ],
)
def test_conda_dependency_as_pip_requirement(conda: str, pip: str) -> None:
    assert as_pip_requirement(conda) == pip


def test_requirements_file_without_comments_and_with_includes(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("numpy==1.26.4  # pinned\n")
    (tmp_path / "requirements.txt").write_text("# the model\n-r base.txt\n\nscikit-learn==1.5.2\n")
    assert read_requirements(tmp_path / "requirements.txt") == ["numpy==1.26.4", "scikit-learn==1.5.2"]
    resolved = from_asset_info({"requirements": ["six==1.16.0", "azureml-defaults"]}, "'env:1'")
    assert resolved is not None
    assert (resolved.python_request, resolved.requirements) == (None, ["six==1.16.0"])
    assert len(resolved.notes) == 1 and "azureml-defaults" in resolved.notes[0]


def _mlflow_folder(folder: Path) -> Path:
    """What mlflow.sklearn.save_model writes next to MLmodel."""
    folder.mkdir()
    (folder / "requirements.txt").write_text("mlflow==2.9.2\ncloudpickle==3.0.0\nscikit-learn==1.5.2\n")
    (folder / "conda.yaml").write_text(
        "channels: [conda-forge]\ndependencies:\n- python=3.11.7\n- pip<=26.3\n- pip:\n  - mlflow==2.9.2\n"
    )
    (folder / "python_env.yaml").write_text(
        "python: 3.11.7\nbuild_dependencies:\n- pip==26.3\n- setuptools==65.5.0\n- wheel\n"
        "dependencies:\n- -r requirements.txt\n"
    )
    return folder


def test_mlflow_folder_uses_python_env_and_installs_mlflow_skinny(tmp_path: Path) -> None:
    resolved = from_folder(_mlflow_folder(tmp_path / "model"))
    assert resolved is not None
    assert resolved.python_request == "3.11.7"
    assert resolved.requirements == [
        "mlflow-skinny==2.9.2",
        "cloudpickle==3.0.0",
        "scikit-learn==1.5.2",
        # what the built-in driver reads files with, which mlflow-skinny does not bring
        "numpy",
        "pandas",
        "pyarrow",
        "pillow",
        "orjson",  # what online deployments read and write JSON with
    ]
    assert any("mlflow==2.9.2 is installed as mlflow-skinny==2.9.2" in note for note in resolved.notes)
    assert any("Added numpy, pandas, pyarrow, pillow" in note for note in resolved.notes)
    assert any("build_dependencies" in note for note in resolved.notes)


def test_mlflow_folder_fallbacks(tmp_path: Path) -> None:
    folder = _mlflow_folder(tmp_path / "model")
    (folder / "python_env.yaml").unlink()
    resolved = from_folder(folder)  # MLflow's fallback: python from conda.yaml, packages from requirements.txt
    assert resolved is not None
    assert resolved.python_request == "3.11.7"
    assert resolved.requirements[:6] == [
        "pip<=26.3",  # conda.yaml lists pip: it still brings pip, setuptools and wheel
        "setuptools<82",
        "wheel",
        "mlflow-skinny==2.9.2",
        "cloudpickle==3.0.0",
        "scikit-learn==1.5.2",
    ]
    (folder / "conda.yaml").unlink()
    resolved = from_folder(folder)
    assert resolved is not None and resolved.python_request is None
    (folder / "requirements.txt").unlink()
    assert from_folder(folder) is None


def test_python_env_asset_records_its_includes(tmp_path: Path) -> None:
    folder = _mlflow_folder(tmp_path / "model")
    document = read_python_env(folder / "python_env.yaml")
    assert document["dependencies"] == ["mlflow==2.9.2", "cloudpickle==3.0.0", "scikit-learn==1.5.2"]
    with pytest.raises(ThresherError, match="register"):
        from_python_env({"python": "3.11.7", "dependencies": ["-r requirements.txt"]}, "python_env.yaml")
    with pytest.raises(ThresherError, match=r"is the number 3\.1") as caught:
        from_python_env({"python": 3.1, "dependencies": []}, "python_env.yaml")
    assert 'python: "3.1"' in (caught.value.fix or "")


def test_an_asset_without_dependency_file_resolves_to_nothing() -> None:
    assert from_asset_info({"notes": []}, "'env:1'") is None
