"""``azureml:`` references as Azure's YAML writes them."""

from __future__ import annotations

import pytest

from thresher.errors import SpecError
from thresher.specs import Reference, parse_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("azureml:heart-classifier:1", Reference(name="heart-classifier", version="1")),
        ("azureml:heart-classifier@latest", Reference(name="heart-classifier", label="latest")),
        ("azureml:batch-cluster", Reference(name="batch-cluster")),
        ("azureml:mnist_model.v2:2024.01", Reference(name="mnist_model.v2", version="2024.01")),
        (
            "azureml:/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
            "/workspaces/ws/models/heart-classifier/versions/3",
            Reference(name="heart-classifier", version="3"),
        ),
    ],
)
def test_reference_forms(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["azureml:heart-classifier:1", "azureml:heart-classifier@latest", "azureml:cpu"])
def test_str_gives_back_the_azureml_form(text: str) -> None:
    reference = parse_reference(text)

    assert reference is not None and str(reference) == text


@pytest.mark.parametrize("text", ["./model", "heart-classifier", "azureml://datastores/blob/paths/x/", "s3://b/k"])
def test_paths_uris_and_plain_names_are_not_references(text: str) -> None:
    assert parse_reference(text) is None


def test_registry_reference_needs_local_registration() -> None:
    with pytest.raises(SpecError) as caught:
        parse_reference("azureml://registries/azureml/models/heart-classifier/versions/1")

    (problem,) = caught.value.problems
    assert "registries are not reachable offline" in problem.message
    assert "thresher model create" in problem.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("azureml:model:1:2", "must look like"),
        ("azureml:", "must look like"),
        ("azureml:m@stable", "@latest"),
    ],
)
def test_malformed_references(text: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_reference(text)

    assert words in caught.value.problems[0].message
