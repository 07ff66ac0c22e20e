"""testing/crash.py itself: the worker process starts on the test database with the test's
settings, and reports when its crash point was never reached (so a crash test cannot pass
by a worker that died of something else, or did not die)."""

import pytest

from testing.crash import NOT_REACHED, run_killed


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_on_the_test_database_and_says_when_the_point_was_not_reached(settings):
    settings.FLUXA_PLATFORM_ADDRESSES = {"ethereum": "0x" + "ab" * 20}
    crash = run_killed("after_send")
    assert crash.returncode == NOT_REACHED, crash.stderr[-2000:]
    assert not crash.killed


def test_an_unknown_point_is_refused():
    with pytest.raises(ValueError):
        run_killed("somewhere")


@pytest.mark.django_db(transaction=True)
def test_a_scan_point_on_a_network_without_a_node_is_not_reached(settings):
    settings.FLUXA_CHAINS = {}  # the beat job builds no adapter: no pass, so no point to die at
    crash = run_killed("scan_after_commit", network="ethereum", mode="live")
    assert crash.returncode == NOT_REACHED, crash.stderr[-2000:]


def test_a_scan_point_needs_its_network_and_mode():
    with pytest.raises(ValueError):
        run_killed("scan_mid_apply", network="ethereum")
