"""Fault tests reuse the batch-job bench of tests/jobs: a real workspace, runner and worker processes."""

from tests.jobs.conftest import bench

__all__ = ["bench"]
