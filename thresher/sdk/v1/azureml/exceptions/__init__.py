"""``azureml.exceptions``: the v1 SDK's errors, as scripts catch them."""

from __future__ import annotations

__all__ = [
    "ActivityFailedException",
    "AzureMLException",
    "ComputeTargetException",
    "UserErrorException",
    "WebserviceException",
]


class AzureMLException(Exception):
    """The base of the v1 SDK's errors."""

    def __init__(self, exception_message: str, **kwargs: object) -> None:
        super().__init__(exception_message)
        self.message = exception_message


class UserErrorException(AzureMLException):
    """Something the script asked for is wrong: the message says what and how to fix it."""


class ActivityFailedException(AzureMLException):
    """A run that was waited for failed (``wait_for_completion(raise_on_error=True)``)."""


class ComputeTargetException(AzureMLException):
    """A compute target could not be found or created."""


class WebserviceException(AzureMLException):
    """Web services do not exist in thresher; kept so that ``except WebserviceException`` imports."""
