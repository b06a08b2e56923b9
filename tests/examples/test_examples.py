"""Every example in examples/ runs with the one command its README gives, as a real bash process.

Each test runs ``bash examples/NAME/run.sh`` from the repository root with small inputs
(``EXAMPLE_SIZE=small``) and its own output folder (``EXAMPLE_OUT``), checks what it prints and that
its predictions are right often enough to be a working model, and then waits until no process of
the example's workspace is left (the detached runner leaves a few seconds after the queue empties).

The selected examples are started together, when the first of their tests runs: most of an
example's time is spent starting Python processes one after another and waiting for them (CLI
commands, the runner, workers), so running them side by side takes about half the time.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("images-file-level", "tabular-mini-batch", "text-row-level", "many-models")
TIMEOUT_SECONDS = 300.0
RUNNER_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Run:
    """What an example printed: stdout alone, and stdout with stderr as one line of words."""

    stdout: str
    words: str

    def line(self, prefix: str) -> str:
        """The first stdout line that starts with ``prefix``."""
        found = [line for line in self.stdout.splitlines() if line.startswith(prefix)]
        assert found, f"no line starting with {prefix!r} in:\n{self.stdout}"
        return found[0]

    def lines_after(self, header: str, count: int) -> list[str]:
        """The ``count`` stdout lines after the line ``header``."""
        lines = self.stdout.splitlines()
        assert header in lines, f"no line {header!r} in:\n{self.stdout}"
        start = lines.index(header) + 1
        return lines[start : start + count]


def _workspace_processes(workspace: str) -> dict[int, str]:
    """Processes (pid: command line) whose environment has THRESHER_HOME=workspace."""
    marker = f"THRESHER_HOME={workspace}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


class Example:
    """One ``bash examples/NAME/run.sh``, started in the background, small, with this checkout's thresher."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        out = folder / "out"
        self.workspace = os.path.realpath(out / ".thresher")
        self.stdout_path, self.stderr_path = folder / "stdout.txt", folder / "stderr.txt"
        env = dict(os.environ)
        env.update(EXAMPLE_SIZE="small", EXAMPLE_OUT=str(out), PYTHON=sys.executable)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        for variable in ("THRESHER_HOME", "THRESHER_DATABASE_URL"):  # run.sh must set and clear them itself
            env[variable] = "/nonexistent/never-used"
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                ["bash", f"examples/{name}/run.sh"], cwd=REPO, env=env, stdout=stdout, stderr=stderr
            )
        self.deadline = time.monotonic() + TIMEOUT_SECONDS
        self._run: Run | None = None

    def result(self) -> Run:
        """Wait for it to end and for its workspace's processes to leave; what it printed."""
        if self._run is None:
            try:
                code = self.process.wait(timeout=max(0.0, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
            finally:
                self._wait_until_no_process_is_left()
            stdout = self.stdout_path.read_text(encoding="utf-8", errors="replace")
            stderr = self.stderr_path.read_text(encoding="utf-8", errors="replace")
            assert code == 0, f"examples/{self.name}/run.sh exited with {code}\n{stdout}\n{stderr}"
            self._run = Run(stdout, " ".join((stdout + stderr).split()))
        return self._run

    def _wait_until_no_process_is_left(self) -> None:
        deadline = time.monotonic() + RUNNER_GRACE_SECONDS
        while (left := _workspace_processes(self.workspace)) and time.monotonic() < deadline:
            time.sleep(0.25)
        if left:
            for pid in left:  # ours: started by the example
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise AssertionError(
                f"processes of {self.workspace} ran on {RUNNER_GRACE_SECONDS} s after the example: {left}"
            )


@pytest.fixture(scope="module")
def examples(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Example]]:
    """Every example whose test is selected, started at once (test_images_file_level -> images-file-level)."""
    mine = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    selected = {item.name.removeprefix("test_").replace("_", "-") for item in mine}
    started = {name: Example(name, tmp_path_factory.mktemp(name)) for name in EXAMPLES if name in selected}
    yield started
    for example in started.values():  # a test that failed early has not waited for its example
        with contextlib.suppress(AssertionError):
            example.result()


def readme_shows(name: str, *prefixes: str) -> None:
    """The example's README gives its one command and shows the lines the test checks."""
    readme = (REPO / "examples" / name / "README.md").read_text(encoding="utf-8")
    assert f"bash examples/{name}/run.sh" in readme
    for prefix in prefixes:
        assert f"\n{prefix}" in readme, f"examples/{name}/README.md does not show a line starting {prefix!r}"


def _count(pattern: str, line: str) -> tuple[int, ...]:
    match = re.search(pattern, line)
    assert match, f"{line!r} does not match {pattern!r}"
    return tuple(int(group) for group in match.groups())


def test_images_file_level(examples: dict[str, Example]) -> None:
    run = examples["images-file-level"].result()
    # The workers ran in thresher's own Python: no environment was built, so torch was installed nowhere.
    assert not Path(examples["images-file-level"].workspace, "envs").exists()
    assert "completed: 100 of 100 items succeeded" in run.words
    first = run.lines_after("== first predictions (file digit probability)", 3)
    assert [line.split()[0] for line in first] == ["digit-0000.png", "digit-0001.png", "digit-0002.png"]
    assert all(re.fullmatch(r"\S+\.png [0-9] (0\.\d{3}|1\.000)", line) for line in first), first
    assert run.line("files scored:") == "files scored: 100 of 100"
    right, total = _count(r"digits read right: (\d+) of (\d+)", run.line("digits read right:"))
    assert total == 100 and right >= 90  # the CNN reads held-out digits, ~97% right
    readme_shows("images-file-level", "files scored:", "digits read right:")


def test_tabular_mini_batch(examples: dict[str, Example]) -> None:
    run = examples["tabular-mini-batch"].result()
    assert "ridge-mini-batch\t1000 rows" in run.stdout  # the deployment's rows per mini-batch
    assert "completed: 1,200 of 1,200 items succeeded" in run.words  # rows of 3 files of 400
    first = run.lines_after("== first predictions (patient_id prediction)", 3)
    assert all(re.fullmatch(r"\d+ -?\d+\.\d", line) for line in first), first
    assert run.line("rows scored:") == "rows scored: 1200 (patients: 90)"
    match = re.fullmatch(r"mean absolute error: ([\d.]+) \(guessing .*: ([\d.]+)\)", run.line("mean absolute error:"))
    assert match, run.stdout
    assert float(match[1]) < 0.85 * float(match[2])  # the model beats guessing the average
    readme_shows("tabular-mini-batch", "rows scored:", "mean absolute error:")


def test_text_row_level(examples: dict[str, Example]) -> None:
    run = examples["text-row-level"].result()
    assert "completed: 4 of 4 items succeeded" in run.words  # items are files; rows come back one line each
    first = run.lines_after("== first predictions (file post_id topic probability)", 3)
    assert [line.split()[:2] for line in first] == [
        ["posts-000.csv", "1"],
        ["posts-000.csv", "2"],
        ["posts-000.csv", "3"],
    ]
    assert all(line.split()[2] in {"sports", "cooking", "weather", "technology"} for line in first), first
    assert run.line("rows classified:") == "rows classified: 200 from 4 files"
    right, total = _count(r"topics right: (\d+) of (\d+)", run.line("topics right:"))
    assert total == 200 and right >= 170  # about one text in seven borrows a word of another topic
    readme_shows("text-row-level", "rows classified:", "topics right:")


def test_many_models(examples: dict[str, Example]) -> None:
    run = examples["many-models"].result()
    assert "model-per-store\tstore" in run.stdout  # partition_keys: [store]
    assert "completed: 78 of 78 items succeeded" in run.words  # 26 weeks x 3 stores
    stores = ["store-01", "store-02", "store-03"]
    loaded = re.findall(r"loaded the model of (store-\d\d)", run.stdout)
    assert sorted(loaded) == stores  # each model read once, by the worker given its store
    assert run.line("stores forecast:").startswith("stores forecast: 3 of 3")
    for store in stores:
        match = re.fullmatch(
            rf"{store}: (\d+) weeks, mean units [\d.]+, mean absolute error ([\d.]+)", run.line(f"{store}:")
        )
        assert match, run.stdout
        assert int(match[1]) == 26
        assert float(match[2]) < 6.0  # near the sales' own noise (4.0): the store's own model was used
    readme_shows("many-models", "stores forecast:", "store-01:")


def _refusal(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, **variables}
    return subprocess.run(
        ["bash", "examples/images-file-level/run.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_wrong_size_a_used_output_folder_and_a_missing_package_are_refused_with_the_fix(tmp_path: Path) -> None:
    wrong_size = _refusal(tmp_path, EXAMPLE_SIZE="tiny")
    assert wrong_size.returncode == 2
    assert "EXAMPLE_SIZE is 'tiny'; it must be small or full." in wrong_size.stderr

    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    not_empty = _refusal(tmp_path, EXAMPLE_OUT=str(used))
    assert not_empty.returncode == 1
    assert (
        f"EXAMPLE_OUT={used} is not empty" in not_empty.stderr and "Fix: give a new or empty folder" in not_empty.stderr
    )
    assert (used / "keep.txt").read_text() == "mine"

    # A Python with thresher (on PYTHONPATH) but none of the example's packages.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = _refusal(tmp_path, PYTHON=str(tmp_path / "bare" / "bin" / "python"), PYTHONPATH=str(REPO))
    assert bare.returncode == 1
    assert "cannot import: torch PIL sklearn numpy pandas." in bare.stderr
    assert "Fix: " in bare.stderr and "-m pip install -r examples/images-file-level/requirements.txt" in bare.stderr
