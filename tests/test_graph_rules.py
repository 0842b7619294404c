"""core.graph: node ids, data edges, the skip rule and compile-time foreach lists, on real examples."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES
from tether.compiler.load import load
from tether.core.graph import data_upstream, foreach_known, node_ids, order_upstream, parse_node_id, skipped_by
from tether.core.ir import Workflow


def _example(name: str) -> Workflow:
    workflow = load(str(EXAMPLES / name)).workflow
    assert workflow is not None
    return workflow


def test_node_ids_are_the_task_or_one_per_item() -> None:
    wf = _example("containers.yaml")
    assert node_ids(wf.task("plan")) == ["plan"]  # type: ignore[arg-type]
    assert node_ids(wf.task("simulate"), 3) == ["simulate[0]", "simulate[1]", "simulate[2]"]  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        node_ids(wf.task("simulate"))  # type: ignore[arg-type]


@pytest.mark.parametrize("text, parsed", [("train", ("train", None)), ("train[3]", ("train", 3)), ("a-b[10]", ("a-b", 10))])
def test_parse_node_id(text: str, parsed: tuple[str, int | None]) -> None:
    assert parse_node_id(text) == parsed


@pytest.mark.parametrize("text", ["", "Train", "train[", "train[-1]", "train[1][2]", "-a"])
def test_parse_node_id_refuses_what_is_not_a_node(text: str) -> None:
    with pytest.raises(ValueError):
        parse_node_id(text)


def test_data_upstream_reads_every_expression_and_after_is_order_only() -> None:
    wf = _example("etl_conditional.yaml")
    load_task = wf.task("load")
    assert load_task is not None
    assert data_upstream(load_task) == {"transform", "validate"}  # inputs and `when`
    assert order_upstream(load_task) == set()


def test_skip_rule_reads_skip_after_does_not() -> None:
    from dataclasses import replace

    wf = _example("etl_conditional.yaml")
    load_task = wf.task("load")
    assert load_task is not None
    assert skipped_by(load_task, {"transform"})
    assert not skipped_by(load_task, {"report-empty"})
    after_only = replace(load_task, after=("report-empty",))
    assert order_upstream(after_only) == {"report-empty"}
    assert not skipped_by(after_only, {"report-empty"})


def test_foreach_known_from_an_input_default_or_a_literal_only() -> None:
    sweep = _example("fanout_sweep.yaml")
    known, items = foreach_known(sweep.task("trial"), sweep)  # type: ignore[arg-type]
    assert known and items is not None and len(items) == 4 and items[0] == {"lr": 0.1, "l2": 0.0}
    pi = _example("containers.yaml")
    assert foreach_known(pi.task("simulate"), pi) == (False, None)  # type: ignore[arg-type]
    assert foreach_known(pi.task("plan"), pi) == (False, None)  # type: ignore[arg-type]
