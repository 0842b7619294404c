"""The lark-free fast paths of the type and expression parsers agree with the grammars.

The grammars define both languages; the fast paths only exist so that common specs start
without importing lark. Whatever a fast path accepts must parse to exactly what the grammar
gives (columns included), and whatever it declines is left to the grammar.
"""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core import expr as expr_module
from tether.core import types as types_module

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
task_names = st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True)


@st.composite
def references(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(["inputs", "tasks", "item"]))
    if root == "inputs":
        text = f"inputs.{draw(identifiers)}"
    elif root == "tasks":
        text = f"tasks.{draw(task_names)}.outputs.{draw(identifiers)}"
    else:
        text = "item"
    for _ in range(draw(st.integers(0, 2))):
        text += draw(st.one_of(identifiers.map(lambda k: f".{k}"), st.integers(0, 20).map(lambda i: f"[{i}]")))
    return text


literals = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.from_regex(r"[A-Za-z0-9 _.-]{0,8}", fullmatch=True).map(lambda s: f'"{s}"'),
    st.from_regex(r"[A-Za-z0-9 _.-]{0,8}", fullmatch=True).map(lambda s: f"'{s}'"),
    st.sampled_from(["true", "false", "null"]),
)
operands = st.one_of(references(), literals)
spaces = st.sampled_from(["", " ", "  "])


@settings(max_examples=300, deadline=None)
@given(operands, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), operands, spaces, spaces, spaces)
def test_the_expression_fast_path_gives_what_the_grammar_gives(
    left: str, op: str, right: str, pad1: str, pad2: str, pad3: str
) -> None:
    text = f"{pad1}{left}{pad2}{op}{pad3}{right}"
    fast = expr_module._parse_simple(text)
    try:
        slow = expr_module._parse_with_grammar(text)
    except expr_module.ExprSyntaxError:
        assert fast is None, f"fast path accepted {text!r}, which the grammar rejects"
        return
    if fast is not None:
        assert fast == slow
        for fast_ref, slow_ref in zip(expr_module.refs(fast), expr_module.refs(slow)):
            assert fast_ref.column == slow_ref.column


@settings(max_examples=100, deadline=None)
@given(references(), spaces)
def test_a_plain_reference_takes_the_fast_path(reference: str, pad: str) -> None:
    text = f"{pad}{reference}"
    fast = expr_module._parse_simple(text)
    slow = expr_module._parse_with_grammar(text)
    assert fast is None or fast == slow
    if "[" not in reference and reference.count(".") == {"inputs": 1, "tasks": 3, "item": 0}[reference.split(".")[0]]:
        assert fast == slow  # a reference without a path into its value is always fast


def test_keyword_like_names_are_left_to_the_grammar() -> None:
    assert expr_module._parse_simple("inputs.true == 1") is None
    assert expr_module._parse_simple("tasks.not-ready.outputs.x == 1") is not None
    assert expr_module.parse_expr("tasks.not-ready.outputs.x and inputs.go") is not None


scalar_names = st.sampled_from(list(types_module.SCALARS))


def _type_texts() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            inner.map(lambda t: f"list[{t}]"),
            inner.map(lambda t: f"dict[str, {t}]"),
            inner.map(lambda t: f"dict[str,{t}]"),
            inner.map(lambda t: f"{t}?"),
        )

    return st.recursive(scalar_names, extend, max_leaves=4)


@settings(max_examples=200, deadline=None)
@given(_type_texts())
def test_the_type_fast_path_gives_what_the_grammar_gives(text: str) -> None:
    fast = types_module._parse_well_formed(text)
    try:
        slow = types_module._build(types_module._parser().parse(text), text)
    except Exception:
        assert fast is None
        return
    assert fast == slow


def test_common_specs_never_import_lark(root) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys\n"
        "from tether.compiler.load import load\n"
        "for spec in sys.argv[1:]:\n"
        "    assert load(spec).ok, spec\n"
        "print(sorted(m for m in ('lark', 'networkx') if m in sys.modules))\n"
    )
    specs = [str(root / "specs/examples" / name) for name in ("checkpointing.yaml", "diamond.yaml", "ml_training.yaml")]
    out = subprocess.run([sys.executable, "-c", code, *specs], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
