"""The expression forms users reach for: len(x), in / not in, + - * / // %, and [] / {} in comparisons.

Each form is parsed (and spelled back canonically), typed at compile time with exact messages,
evaluated by core.expr (the one interpreter of the local run, `tether exec` and `--decide`), and
rendered for Argo's govaluate where that is exact: the rendering is checked against a model of
govaluate (tests/engines/govaluate.py) on many values, never only by its text.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from engines.govaluate import evaluate_when
from tether.backends.argo_when import GovaluateWhen, render_when
from tether.compiler.load import load
from tether.core.expr import Call, EvaluationError, ExprSyntaxError, Ref, evaluate, parse_expr, refs, unparse
from tether.core.types import Type, parse_type

# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("inputs.xs != []", "inputs.xs != []"),
        ("inputs.d=={}", "inputs.d == {}"),
        ("len( inputs.xs )>0", "len(inputs.xs) > 0"),
        ("inputs.a + 2 * 3 - 1 >= 4", "inputs.a + 2 * 3 - 1 >= 4"),
        ("(inputs.a + 2) * 3", "(inputs.a + 2) * 3"),
        ("(inputs.a - inputs.b) - (1 - 2)", "inputs.a - inputs.b - (1 - 2)"),
        ("inputs.a // 2 % 3 / 4", "inputs.a // 2 % 3 / 4"),
        ("inputs.a / (2 * 3)", "inputs.a / (2 * 3)"),
        ("inputs.x not   in\n[1, 2]", "inputs.x not in [1, 2]"),
        ("'a' in inputs.s", '"a" in inputs.s'),
        ("not inputs.x in [1] and len(item) == 2", "not inputs.x in [1] and len(item) == 2"),
        ("1 -1 == 0", "1 - 1 == 0"),
        ("inputs.a - -1", "inputs.a - -1"),
        ("tasks.in.outputs.in in [1]", "tasks.in.outputs.in in [1]"),  # `in` after '.' is a name
        ("len(tasks.split.outputs.shards) * 2", "len(tasks.split.outputs.shards) * 2"),
    ],
)
def test_new_forms_parse_and_spell_back_canonically(text: str, canonical: str) -> None:
    expr = parse_expr(text)
    assert unparse(expr) == canonical
    assert parse_expr(canonical) == expr


def test_arithmetic_binds_tighter_than_comparison_and_groups_to_the_left() -> None:
    expr = parse_expr("inputs.a - inputs.b - 1 < inputs.c * 2")
    assert unparse(expr.left) == "inputs.a - inputs.b - 1"  # type: ignore[union-attr]
    assert unparse(expr.left.left) == "inputs.a - inputs.b"  # type: ignore[union-attr]
    assert [r.name for r in refs(expr)] == ["a", "b", "c"]


def test_a_call_is_a_node_and_its_references_count() -> None:
    expr = parse_expr("len(inputs.xs)")
    assert expr == Call("len", (Ref("inputs", "xs"),))
    assert refs(expr) == [Ref("inputs", "xs")]


@pytest.mark.parametrize(
    ("text", "message", "column", "hint"),
    [
        ("lenn(inputs.xs) > 0", "unknown function 'lenn'", 1, "did you mean 'len'?"),
        ("size(x)", "unknown function 'size'", 1, "the functions are: len(x)"),
        ("len(inputs.a, 1)", "len() takes 1 argument, not 2", 1, "write len(x)"),
        ("item-1 > 0", "unknown reference 'item-1'", 1, "to subtract, put spaces around '-': item - 1"),
    ],
)
def test_mistakes_in_the_new_forms_are_located_with_a_hint(text: str, message: str, column: int, hint: str) -> None:
    with pytest.raises(ExprSyntaxError) as caught:
        parse_expr(text)
    assert (str(caught.value), caught.value.column, caught.value.hint) == (message, column, hint)


# ---------------------------------------------------------------------------- evaluation

VALUES: dict[str, Any] = {"xs": [], "ys": [3, 4], "d": {}, "e": {"k": 1}, "a": 7, "b": 2, "f": 2.5, "s": "bab", "z": 0}


def _run(text: str) -> object:
    return evaluate(parse_expr(text), lambda ref: VALUES[ref.name or ""])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("inputs.xs == []", True),
        ("inputs.ys != []", True),
        ("inputs.d == {}", True),
        ("inputs.e == {}", False),
        ("len(inputs.ys)", 2),
        ("len(inputs.e)", 1),
        ("len(inputs.s)", 3),
        ("3 in inputs.ys", True),
        ("5 not in inputs.ys", True),
        ('"k" in inputs.e', True),
        ('"ab" in inputs.s', True),
        ('"x" not in inputs.s', True),
        ("inputs.a + inputs.b * 3", 13),
        ("inputs.a - inputs.f", 4.5),
        ("inputs.a / inputs.b", 3.5),
        ("inputs.a // inputs.b", 3),
        ("inputs.a % inputs.b", 1),
        ("-7 // 2", -4),  # floor, as in Python
        ("-7 % 3", 2),  # the sign of the divisor, as in Python
        ("inputs.f * 2 == 5", True),
    ],
)
def test_each_form_evaluates_as_python_would(text: str, value: object) -> None:
    result = _run(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inputs.a / inputs.z", "division by zero: 7 / 0"),
        ("inputs.a // 0", "division by zero: 7 // 0"),
        ("inputs.a % inputs.z", "division by zero: 7 % 0"),
        ("len(inputs.a)", "len() needs a list, a dict or a string, not 7"),
        ("inputs.s + 1", "cannot compute 'bab' + 1: '+' needs two numbers"),
        ("inputs.a in inputs.b", "cannot evaluate 7 in 2"),
    ],
)
def test_what_cannot_be_computed_is_an_evaluation_error(text: str, message: str) -> None:
    with pytest.raises(EvaluationError) as caught:
        _run(text)
    assert str(caught.value) == message


# ---------------------------------------------------------------------------- typing

_SPEC = """apiVersion: tether/v1
kind: Workflow
metadata: {{name: forms}}
spec:
  inputs:
    xs: {{type: "list[int]", default: []}}
    d: {{type: "dict[str, int]", default: {{}}}}
    n: {{type: int, default: 3}}
    f: {{type: float, default: 1.5}}
    s: {{type: str, default: ab}}
    o: {{type: "int?", default: null}}
  tasks:
    t:
      container: {{image: busybox, command: [true]}}
      inputs: {{x: "${{{{ {expr} }}}}"}}
"""


def _check(tmp_path: Path, expr: str) -> tuple[list[str], Type | None]:
    path = tmp_path / "forms.yaml"
    path.write_text(_SPEC.format(expr=expr), encoding="utf-8")
    result = load(str(path))
    messages = [f"{d.code} {d.message} | {d.hint}" for d in result.diagnostics]
    binding = result.workflow.tasks[0].inputs[0].type if result.workflow else None
    return messages, binding


@pytest.mark.parametrize(
    ("expr", "type_"),
    [
        ("inputs.xs != []", "bool"),
        ("[] == inputs.xs", "bool"),
        ("inputs.d == {}", "bool"),
        ("inputs.o != null", "bool"),
        ("len(inputs.xs) > 0", "bool"),
        ("len(inputs.d)", "int"),
        ("len(inputs.s)", "int"),
        ("inputs.n in inputs.xs", "bool"),
        ("inputs.f in inputs.xs", "bool"),  # int and float compare
        ("inputs.n not in [1, 2]", "bool"),
        ("inputs.s in inputs.d", "bool"),
        ("'a' in inputs.s", "bool"),
        ("inputs.n * 2 + 1", "int"),
        ("inputs.n // 2 % 3", "int"),
        ("inputs.n / 2", "float"),
        ("inputs.n + inputs.f", "float"),
        ("len(inputs.xs) - 1 >= inputs.n", "bool"),
    ],
)
def test_each_form_is_typed_at_compile_time(tmp_path: Path, expr: str, type_: str) -> None:
    assert _check(tmp_path, expr) == ([], parse_type(type_))


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("len(inputs.n)", "E206 len() needs a list, a dict or a str, not int | len(x) counts a list's items, a dict's keys or a str's characters"),
        ("len(inputs.o)", "E206 len() needs a list, a dict or a str, not int? | the value may be null; compare it with null first"),
        ("inputs.s + inputs.s", "E206 '+' needs two numbers, not str and str | join strings in an interpolated string: \"${{ a }}${{ b }}\""),
        ("inputs.o * 2", "E206 '*' needs two numbers, not int? and int | in 'inputs.o * 2'"),
        ("inputs.n in inputs.n", "E206 'in' needs a list, a dict or a str on its right, not int | in 'inputs.n in inputs.n'"),
        ("inputs.s in inputs.xs", "E206 cannot look for str in list[int] | in 'inputs.s in inputs.xs': the two sides never match"),
        ("inputs.n not in inputs.d", "E206 the keys of dict[str, int] are str, not int | in 'inputs.n not in inputs.d'"),
        ("inputs.n in inputs.s", "E206 'in' on a str looks for a str, not int | in 'inputs.n in inputs.s'"),
        ("inputs.xs == {}", "E206 cannot compare list[int] with dict[str, null?] | in 'inputs.xs == {}': the two sides never match"),
        ("inputs.n-1", "E302 unknown workflow input 'n-1' | to subtract, put spaces around '-': inputs.n - 1"),
    ],
)
def test_a_form_used_on_the_wrong_types_is_a_located_error(tmp_path: Path, expr: str, message: str) -> None:
    assert _check(tmp_path, expr)[0] == [message]


# ---------------------------------------------------------------------------- Argo (govaluate)

_TYPES = {"a": Type("int"), "b": Type("int"), "ok": Type("bool"), "xs": parse_type("list[int]")}


def _render(text: str) -> tuple[str | None, list[str]]:
    def tag(ref: Ref) -> str:
        return "{{workflow.parameters." + (ref.name or "") + "}}"

    renderer = GovaluateWhen(tag, lambda ref: _TYPES.get(ref.name or ""))
    renderer.visit(parse_expr(text))
    return render_when(parse_expr(text), tag, lambda ref: _TYPES.get(ref.name or "")), [
        why for _, why in renderer.unsupported_nodes
    ]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("inputs.a + 1 > 3", "({{workflow.parameters.a}} + 1) > 3"),
        ("inputs.a * 2 - inputs.b == 0", "(({{workflow.parameters.a}} * 2) - {{workflow.parameters.b}}) == 0"),
        ("inputs.a / 2 >= 1", "({{workflow.parameters.a}} / 2) >= 1"),
        ("inputs.a in [1, 2, 3]", "{{workflow.parameters.a}} in (1, 2, 3)"),
        ("inputs.a not in [1, -2]", "!({{workflow.parameters.a}} in (1, -2))"),
        ("inputs.a in [4]", "{{workflow.parameters.a}} == 4"),
        ("inputs.ok in [true] and inputs.a not in [0]", "({{workflow.parameters.ok}} == true) && !({{workflow.parameters.a}} == 0)"),
    ],
)
def test_argo_renders_the_forms_govaluate_evaluates_exactly(text: str, rendered: str) -> None:
    assert _render(text) == (rendered, [])


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("inputs.a % 2 == 0", "govaluate has no '%' with Python's (floor) semantics"),
        ("inputs.a // 2 == 0", "govaluate has no '//' with Python's (floor) semantics"),
        ("inputs.a / inputs.b > 1", "govaluate divides by zero without failing; only a nonzero literal divisor is exact"),
        ("inputs.a / 0 > 1", "govaluate divides by zero without failing; only a nonzero literal divisor is exact"),
        ("len(inputs.xs) > 0", "govaluate has no len()"),
        ("inputs.a in inputs.xs", "'in' is rendered only over a written, non-empty list"),
        ("inputs.a in []", "'in' is rendered only over a written, non-empty list"),
    ],
)
def test_argo_reports_the_forms_it_cannot_render_so_exec_decides(text: str, why: str) -> None:
    assert _render(text) == (None, [why])


@pytest.mark.parametrize(
    "text",
    [
        "inputs.a + 1 > 3",
        "inputs.a * 2 - inputs.b == 0",
        "inputs.a - inputs.b * 3 <= -2",
        "inputs.a / 2 >= 1",
        "inputs.a / -4 < inputs.b",
        "inputs.a in [1, 2, 3]",
        "inputs.a not in [1, -2]",
        "inputs.a in [4] or inputs.ok",
        "not inputs.ok in [false, true] and inputs.a + inputs.b > 0",
    ],
)
def test_the_rendering_decides_as_tether_does_for_every_value(text: str) -> None:
    """Argo substitutes each tag with the value's text, then govaluate decides; so must tether."""
    rendered, unsupported = _render(text)
    assert rendered is not None, unsupported
    expr = parse_expr(text)
    for a, b, ok in itertools.product(range(-5, 6), (-3, 0, 2, 4), (True, False)):
        values: dict[str, object] = {"a": a, "b": b, "ok": ok}
        substituted = rendered
        for name, value in values.items():
            shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
            substituted = substituted.replace("{{workflow.parameters." + name + "}}", shown)
        assert evaluate_when(substituted) == evaluate(expr, lambda ref: values[ref.name or ""]), (substituted, values)
