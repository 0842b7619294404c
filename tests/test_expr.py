"""The ${{ }} language: parse(unparse(e)) == e for any expression, positions, errors, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core.expr import (
    BinOp,
    EvaluationError,
    Expr,
    ExprSyntaxError,
    Interp,
    ListExpr,
    Literal,
    Not,
    Ref,
    evaluate,
    parse_expr,
    parse_template,
    refs,
    to_template,
    unparse,
)

SETTINGS = settings(deadline=None, max_examples=150)  # the first example also builds the lark parser
KEYWORDS = {"and", "or", "not", "true", "false", "null"}
# Input and output names are identifiers, keywords included (`inputs.not` is unambiguous after
# the '.'); task names are DNS-1123 labels: leading digits, hyphens, keyword prefixes.
names = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.sampled_from(sorted(KEYWORDS | {"true1", "or_"}))
)
task_names = st.one_of(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?", fullmatch=True),
    st.sampled_from(sorted(KEYWORDS | {"9a", "123", "not-ready", "true1", "null-x"})),
)
steps = st.one_of(st.integers(-3, 50), st.text(max_size=6))
paths = st.lists(steps, max_size=3).map(tuple)

refs_ = st.one_of(
    st.builds(lambda n, p: Ref("inputs", n, None, p), names, paths),
    st.builds(lambda t, n, p: Ref("tasks", n, t, p), task_names, names, paths),
    paths.map(lambda p: Ref("item", None, None, p)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
).map(Literal)


def expressions() -> st.SearchStrategy[Expr]:
    return st.recursive(
        st.one_of(scalars, refs_),
        lambda inner: st.one_of(
            inner.map(Not),
            st.builds(BinOp, st.sampled_from(["and", "or", "==", "!=", "<", "<=", ">", ">="]), inner, inner),
            st.lists(inner, max_size=3).map(lambda items: ListExpr(tuple(items))),
        ),
        max_leaves=8,
    )


@SETTINGS
@given(expressions())
def test_unparse_round_trips(expr: Expr) -> None:
    assert parse_expr(unparse(expr)) == expr


@SETTINGS
@given(expressions())
def test_template_round_trips(expr: Expr) -> None:
    assert parse_template(to_template(expr)) == expr


texts = st.text(min_size=1, max_size=6).filter(lambda t: "${{" not in t and "}}" not in t)


@SETTINGS
@given(st.lists(st.tuples(texts, expressions()), min_size=1, max_size=3), st.one_of(st.none(), texts))
def test_interpolation_round_trips(pairs: list[tuple[str, Expr]], tail: str | None) -> None:
    parts: list[str | Expr] = [part for pair in pairs for part in pair]
    if tail is not None:
        parts.append(tail)
    interp = Interp(tuple(parts))
    assert parse_template(to_template(interp)) == interp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("inputs.a and inputs.b or inputs.c", "inputs.a and inputs.b or inputs.c"),
        ("inputs.a and (inputs.b or inputs.c)", "inputs.a and (inputs.b or inputs.c)"),
        ("inputs.a and (inputs.b and inputs.c)", "inputs.a and (inputs.b and inputs.c)"),
        ("not (inputs.x == 1)", "not inputs.x == 1"),
        ("(not inputs.x) == item", "(not inputs.x) == item"),
        ("(inputs.a == 1) == true", "(inputs.a == 1) == true"),
        ("[1, 'two', null]", '[1, "two", null]'),
        ("tasks.split-data.outputs.shards[0].path", "tasks.split-data.outputs.shards[0].path"),
        ("inputs.cfg['with space']", 'inputs.cfg["with space"]'),
    ],
)
def test_canonical_spelling(text: str, expected: str) -> None:
    assert unparse(parse_expr(text)) == expected


def test_reference_columns_point_into_the_text() -> None:
    expr = parse_expr("inputs.x == 1 and tasks.train.outputs.loss < 0.5")
    assert [(r.root, r.column) for r in refs(expr)] == [("inputs", 1), ("tasks", 19)]
    multi_line = parse_expr("inputs.x == 1 and\n  tasks.train.outputs.loss < 0.5")  # offsets, not lark's line columns
    assert [r.column for r in refs(multi_line)] == [1, 21]
    with pytest.raises(ExprSyntaxError) as caught:
        parse_expr("inputs.x and\n  + 1")
    assert caught.value.column == len("inputs.x and\n  ") + 1


def test_template_error_columns_are_relative_to_the_whole_string() -> None:
    with pytest.raises(ExprSyntaxError) as caught:
        parse_template("run-${{ inputs.x # 1 }}")
    assert caught.value.column == len("run-${{ inputs.x ") + 1
    assert str(caught.value) == "unexpected character '#'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("input.x", "unknown reference 'input'"),
        ("tasks.train.result", "a task reference is tasks.TASK.outputs.NAME"),
        ("inputs.x ==", "unexpected end of expression"),
        ("a == b == c", "unexpected '=='"),
        ("item.0", "'.0' is not a key name"),
        ("tasks.a.outputs", "a task reference is tasks.TASK.outputs.NAME"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ExprSyntaxError) as caught:
        parse_expr(text)
    assert str(caught.value) == message


def test_unclosed_template() -> None:
    with pytest.raises(ExprSyntaxError, match="unclosed"):
        parse_template("x ${{ inputs.a")


def test_evaluate_reads_only_references() -> None:
    values = {("inputs", "mode"): "full", ("tasks", "score"): {"acc": [0.5, 0.93]}}

    def resolve(ref: Ref) -> object:
        return values[(ref.root, ref.name)]

    expr = parse_template("${{ inputs.mode == 'full' and tasks.eval.outputs.score.acc[1] > 0.9 }}")
    assert evaluate(expr, resolve) is True
    assert evaluate(parse_template("acc=${{ tasks.eval.outputs.score.acc }}"), resolve) == "acc=[0.5, 0.93]"
    with pytest.raises(EvaluationError, match="no element 5"):
        evaluate(parse_expr("tasks.eval.outputs.score.acc[5]"), resolve)
    with pytest.raises(EvaluationError, match="cannot compare"):
        evaluate(parse_expr("inputs.mode < 3"), resolve)
