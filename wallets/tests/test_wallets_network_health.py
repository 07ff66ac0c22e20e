"""When fluxa can see payments on a network (wallets.selectors.network_health): judged per
network, by the node's own word, and by the scanner's last pass."""

from datetime import timedelta

import pytest
from django.utils import timezone

from wallets.models import ChainCursor
from wallets.selectors import network_health

pytestmark = pytest.mark.django_db


def _cursor(network, mode, *, head_age, scanned_age=5, synced=True, error=""):
    now = timezone.now()
    ChainCursor.objects.create(network=network, mode=mode, head_timestamp=now - timedelta(seconds=head_age),
                               scanned_at=now - timedelta(seconds=scanned_age), node_synced=synced, last_error=error)


def test_bitcoins_ten_minute_blocks_are_not_lag_but_ethereums_are():
    _cursor("bitcoin", "live", head_age=700)  # older than 600 s: 31% of healthy BTC moments
    _cursor("ethereum", "live", head_age=700)
    assert network_health(network="bitcoin", mode="live").ok is True
    ethereum = network_health(network="ethereum", mode="live")
    assert (ethereum.ok, ethereum.problem) == (False, "is 700 s behind")


def test_the_limit_is_twelve_block_intervals_and_the_operator_may_set_one(settings):
    _cursor("bitcoin", "live", head_age=2 * 3600 + 60)
    assert network_health(network="bitcoin", mode="live").ok is False
    settings.FLUXA_CHAIN_MAX_LAG_SECONDS = {"bitcoin": 4 * 3600}
    assert network_health(network="bitcoin", mode="live").ok is True


def test_test_mode_does_not_judge_by_block_age():
    _cursor("ethereum", "test", head_age=6 * 3600)  # an idle local anvil
    assert network_health(network="ethereum", mode="test").ok is True


@pytest.mark.parametrize("kwargs, problem", [
    ({"synced": False}, "says it is not in step with its network"),
    ({"scanned_age": 600}, "has not been scanned for a while"),
    ({"error": "wrong chain: the ethereum live node is a node of '11155111'"}, "is a node of another chain"),
])
def test_a_node_behind_by_its_own_word_unscanned_or_of_another_chain_is_not_usable(kwargs, problem):
    _cursor("ethereum", "live", head_age=5, **kwargs)
    health = network_health(network="ethereum", mode="live")
    assert (health.ok, health.problem) == (False, problem)


def test_a_network_never_reached():
    assert network_health(network="solana", mode="live").problem == "has not been reached yet"


def test_the_old_single_number_still_sets_every_networks_limit(settings):
    settings.FLUXA_CHAIN_MAX_LAG_SECONDS = 600  # what FLUXA_CHAIN_MAX_LAG_SECONDS=600 parses to
    _cursor("bitcoin", "live", head_age=700)
    assert network_health(network="bitcoin", mode="live").problem == "is 700 s behind"
