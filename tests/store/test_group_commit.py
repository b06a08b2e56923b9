"""``GroupCommit``: threads that submit while a group runs go together into the next one, each gets its own
outcome, and a thread alone runs its item at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from thresher.store.group_commit import GroupCommit


def test_items_that_arrive_while_a_group_runs_share_the_next_and_get_their_own_outcomes() -> None:
    groups: list[list[int]] = []
    first_running, release = threading.Event(), threading.Event()

    def run(items: Sequence[int]) -> list[int | Exception]:
        groups.append(list(items))
        if len(groups) == 1:
            first_running.set()
            release.wait(10)
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]

    commits: GroupCommit[int, int] = GroupCommit(run)
    outcomes: dict[int, object] = {}

    def submit(item: int) -> None:
        try:
            outcomes[item] = commits.submit(item)
        except ValueError as error:
            outcomes[item] = str(error)

    leader = threading.Thread(target=submit, args=(0,))
    leader.start()
    assert first_running.wait(10)
    followers = [threading.Thread(target=submit, args=(item,)) for item in range(1, 6)]
    for thread in followers:
        thread.start()
    while len(commits._waiting) < 5:  # all five queued behind the first group (a wait, not an assertion)
        threading.Event().wait(0.01)
    release.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert groups[0] == [0] and sorted(groups[1]) == [1, 2, 3, 4, 5] and len(groups) == 2
    assert outcomes == {0: 0, 1: "odd 1", 2: 20, 3: "odd 3", 4: 40, 5: "odd 5"}
    assert commits.submit(8) == 80  # alone: at once, in a group of its own
    assert groups[-1] == [8]


def test_a_failed_group_fails_each_of_its_items_and_the_next_group_runs() -> None:
    calls = 0

    def run(items: Sequence[str]) -> list[str | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away")
        return [item.upper() for item in items]

    commits: GroupCommit[str, str] = GroupCommit(run)
    with pytest.raises(RuntimeError, match="went away"):
        commits.submit("a")
    assert commits.submit("b") == "B"
