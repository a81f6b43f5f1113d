"""One campaign configuration (conformance.run.config.Campaign): checked once, naming the field;
what run_campaign's keywords build."""

from __future__ import annotations

import inspect
import pickle

import pytest

pytest.importorskip("torch", reason="the harness compares with PyTorch")

from vetgrad.conformance.run.campaign import run_campaign
from vetgrad.conformance.run.config import Campaign
from vetgrad.conformance.run.orchestrate import shares

pytestmark = pytest.mark.torch


@pytest.mark.parametrize(("settings", "error", "message"), [
    (dict(graphs=None), ValueError, "give graphs or seconds"),
    (dict(graphs=-1), ValueError, "graphs must be at least 0, got -1"),
    (dict(max_nodes=0), ValueError, "max_nodes must be at least 1"),
    (dict(batch=0), ValueError, "batch must be at least 1"),
    (dict(level="bogus"), ValueError, "level must be one of math, robust, torch"),
    (dict(shard=(3, 2)), ValueError, "shard K/N needs 1 <= K <= N, got 3/2"),
    (dict(blocks=(2, 2)), ValueError, r"blocks \(j, W\) needs 0 <= j < W"),
    (dict(seconds=0), ValueError, "seconds must be a positive number"),
    (dict(graph_timeout=-1.0), ValueError, "graph_timeout must be a positive number"),
    (dict(device="tpu"), ValueError, "device must be cpu or cuda"),
    (dict(max_hangs=-1), ValueError, "max_hangs must be at least 0"),
    (dict(seed=1.5), TypeError, "seed must be a whole number"),
    (dict(strict="yes"), TypeError, "strict must be True or False"),
    (dict(ops="tanh"), TypeError, "ops must be a list of op names"),
    (dict(shard=(1,)), TypeError, "shard must be a pair of whole numbers"),
])
def test_a_bad_setting_is_named(settings: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Campaign("vetgrad.engine:Value", **settings)
    with pytest.raises(error, match=message):  # a share is checked as a new campaign is
        Campaign().replace(**settings)


def test_a_campaign_is_frozen_and_travels() -> None:
    campaign = Campaign(ops=["tanh", "add"], seconds=2.0, graphs=None)
    assert campaign.ops == ("tanh", "add")
    with pytest.raises(AttributeError):
        campaign.seed = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(campaign)) == campaign  # to a worker or a cluster


def test_shares_split_the_batches_and_keep_the_sweep_with_the_first() -> None:
    jobs = shares(Campaign(graphs=600, batch=256), 4)
    assert [j.blocks for j in jobs] == [(0, 4), (1, 4), (2, 4)]  # 3 batches: no idle share
    assert [j.edges for j in jobs] == [True, False, False]


def test_run_campaign_shows_every_setting_and_takes_a_campaign() -> None:
    params = inspect.signature(run_campaign).parameters
    assert {"engine", "graphs", "edges", "shrink", "memory_limit", "monitor"} <= set(params)
    with pytest.raises(TypeError):
        run_campaign(graphs=1, no_such_setting=1)
    with pytest.raises(ValueError, match="max_nodes must be at least 1"):
        run_campaign(Campaign(graphs=1), max_nodes=0)
