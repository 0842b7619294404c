"""The lark-free fast paths of the type and expression parsers agree with the grammars.

The grammars define both languages; the fast paths only exist so that common specs start
without importing lark. Whatever a fast path accepts must parse to exactly what the grammar
gives (columns included), and whatever it declines is left to the grammar.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.core import types as types_module
from tether.core.expr import ExprSyntaxError, parse_expr, refs
from tether.core.expr.syntax import KEYWORDS, parse_simple, parse_with_grammar

# Names from the whole alphabets the validator accepts, not just the usual ones: a task is any
# DNS-1123 label (leading digits, hyphens, all digits, keywords and keyword prefixes such as
# `not-ready`, `true1`); inputs and outputs are identifiers (keywords included); keys after '.'
# are anything the grammar's NAME token matches, and the fast path must agree on all of them.
keyword_like = st.sampled_from([*KEYWORDS, "not-ready", "true1", "nullx", "or_", "and-1", "item", "inputs"])
identifiers = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), keyword_like.filter(lambda k: "-" not in k))
task_names = st.one_of(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[0-9][a-z0-9-]{0,4}[a-z0-9]", fullmatch=True),
    keyword_like,
)
keys = st.one_of(identifiers, task_names, st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True))


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
        text += draw(st.one_of(keys.map(lambda k: f".{k}"), st.integers(0, 20).map(lambda i: f"[{i}]")))
    return text


literals = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.from_regex(r"[A-Za-z0-9 _.-]{0,8}", fullmatch=True).map(lambda s: f'"{s}"'),
    st.from_regex(r"[A-Za-z0-9 _.-]{0,8}", fullmatch=True).map(lambda s: f"'{s}'"),
    st.sampled_from(["true", "false", "null"]),
)
operands = st.one_of(references(), literals)
spaces = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\x0b"])  # the grammar ignores only " \t\r\n"


@settings(max_examples=300, deadline=None)
@given(operands, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), operands, spaces, spaces, spaces)
def test_the_expression_fast_path_gives_what_the_grammar_gives(
    left: str, op: str, right: str, pad1: str, pad2: str, pad3: str
) -> None:
    text = f"{pad1}{left}{pad2}{op}{pad3}{right}"
    fast = parse_simple(text)
    try:
        slow = parse_with_grammar(text)
    except ExprSyntaxError:
        assert fast is None, f"fast path accepted {text!r}, which the grammar rejects"
        return
    if fast is not None:
        assert fast == slow
        for fast_ref, slow_ref in zip(refs(fast), refs(slow)):
            assert fast_ref.column == slow_ref.column


@settings(max_examples=200, deadline=None)
@given(references(), spaces, spaces)
def test_a_plain_reference_takes_the_fast_path(reference: str, pad: str, tail: str) -> None:
    text = f"{pad}{reference}{tail}"
    fast = parse_simple(text)
    try:
        slow = parse_with_grammar(text)
    except ExprSyntaxError:
        assert fast is None, f"fast path accepted {text!r}, which the grammar rejects"
        return
    assert fast is None or (fast == slow and fast.column == slow.column)  # type: ignore[union-attr]
    plain = "[" not in reference and reference.count(".") == {"inputs": 1, "tasks": 3, "item": 0}[reference.split(".")[0]]
    if plain and pad.strip(" \t\n") == "" and tail.strip(" \t\n") == "":
        assert fast == slow  # a reference without a path into its value is always fast


def test_the_mismatches_these_strategies_would_have_caught() -> None:
    """Each of these once parsed on one path and failed (or differed) on the other."""
    assert parse_simple("tasks.9a.outputs.x") == parse_with_grammar("tasks.9a.outputs.x")
    assert parse_simple("tasks.true.outputs.x == 1") == parse_with_grammar("tasks.true.outputs.x == 1")
    assert parse_simple("inputs.not") == parse_with_grammar("inputs.not")
    assert parse_simple("\u00a0inputs.x") is None  # the grammar ignores only " \t\r\n"
    assert parse_simple("item.0") is None  # an index is written item[0]
    with pytest.raises(ExprSyntaxError, match="not a key name"):
        parse_expr("item.0")
    assert parse_expr("tasks.not-ready.outputs.x and inputs.go") is not None
    assert types_module._parse_well_formed("list[\tint]") is None


scalar_names = st.sampled_from(list(types_module.SCALARS))


def _type_texts() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            inner.map(lambda t: f"list[{t}]"),
            inner.map(lambda t: f"dict[str, {t}]"),
            inner.map(lambda t: f"dict[str,{t}]"),
            inner.map(lambda t: f"dict[int, {t}]"),
            inner.map(lambda t: f"{t}?"),
        )

    names = st.one_of(scalar_names, st.sampled_from(["Int", "list", "integer", "_x", "9"]))
    return st.recursive(names, extend, max_leaves=4)


@settings(max_examples=200, deadline=None)
@given(_type_texts(), st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " ", "\t"]))
def test_the_type_fast_path_gives_what_the_grammar_gives(text: str, pad: str, tail: str) -> None:
    text = f"{pad}{text}{tail}".replace("[", "[" + pad)
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
