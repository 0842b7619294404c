"""tether.backends.yaml_emit: exact round trips through PyYAML and libyaml, and the output style."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.backends.yaml_emit import dump, dump_all

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if getattr(yaml, "__with_libyaml__", False) else [])


def same(a: Any, b: Any) -> bool:
    """Equal with exact types (True is not 1, 1.0 is not 1) and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def assert_round_trip(document: Any) -> str:
    text = dump(document)
    for loader in LOADERS:
        back = yaml.load(text, Loader=loader)
        assert same(back, document), f"{loader.__name__} read back {back!r} from:\n{text}"
    return text


# --- strategies -------------------------------------------------------------------------------

HARD_PIECES = [
    "'", '"', "''", "{{", "}}", "{{inputs.parameters.x}}", ": ", ":", " #", "#", "-", "- ", "--",
    "?", "? ", "*", "&", "!", "!!str", "%", "@", "`", "|", ">", ",", "[", "]", "{", "}", "\n",
    "\n\n", "\r", "\r\n", " ", "  ", "\t", "\\", "yes", "no", "on", "off", "y", "n", "Y", "N",
    "null", "Null", "NULL", "~", "True", "FALSE", "0o17", "0x1F", "0b101", "010", "1_000",
    "1e3", "1E+3", "1.0e+3", ".5", "5.", "-1", "+1", ".inf", "-.Inf", "+.INF", ".nan", "NaN",
    "inf", "12:30:00", "190:20:30.15", "2024-01-01", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5", "---", "...", "<<", "=", "\x85", "\u2028", "\u2029", "\ufeff",
    "\ufffe", "\x00", "\x1b", "\x7f", "\x9f", "\xa0", "\u3000", "\U0001F600", "\u200d", "caf\u00e9",
    "a", "b1", "0", "00", "_", "._", "x:y", "#!/bin/sh", "echo $X", "set -e\n",
]

any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))
hard_text = st.lists(st.one_of(st.sampled_from(HARD_PIECES), any_text.filter(lambda s: len(s) < 4)), max_size=6).map(
    "".join
)
texts = st.one_of(any_text, hard_text, st.sampled_from(HARD_PIECES))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(texts, children, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_document_round_trips(document: Any) -> None:
    assert_round_trip(document)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, max_size=4), texts)
def test_any_string_round_trips_in_every_position(strings: list[str], text: str) -> None:
    """As a root scalar, a key, a mapping value, a sequence item, nested two deep."""
    assert_round_trip(text)
    assert_round_trip({text: text, "k": [text, [text], {text: [text]}]})
    assert_round_trip([{"a": {"b": strings}}, strings, [[text]]])


@settings(max_examples=100, deadline=None)
@given(st.lists(documents, max_size=4))
def test_dump_all_round_trips(docs: list[Any]) -> None:
    text = dump_all(docs)
    for loader in LOADERS:
        back = list(yaml.load_all(text, Loader=loader))
        assert same(back, docs), f"{loader.__name__} read back {back!r} from:\n{text}"


@pytest.mark.parametrize(
    "text",
    ["\n", "\n\n", "a\n", "a\n\n", "a\n\n\n", " a\nb", "  a\n b\n", "\ta\n\tb", "a\n b\n  c\n", "x\n#y\n---\n...\n"],
)
def test_multiline_edge_cases(text: str) -> None:
    assert_round_trip({"k": text, "l": [text, {"m": text}], "n": [[text]]})


def test_long_keys_use_explicit_entries() -> None:
    """Simple keys are limited to 1024 characters by libyaml and PyYAML."""
    for key in ("k" * 1100, "\u00e9" * 600, "'" * 700, "\x01" * 300):
        text = assert_round_trip({key: 1, "a": {key: [key]}, "b": [{key: {"x": key}}]})
        assert "? " in text
    assert assert_round_trip({"k" * 200: 1}).startswith("k" * 200 + ": 1")


# --- exact output (the style a reviewer sees) ------------------------------------------------


def test_argo_manifest_style() -> None:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "etl-", "labels": {}},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "load",
                                "template": "step",
                                "depends": "extract && transform",
                                "arguments": {"parameters": [{"name": "x", "value": "{{tasks.extract.outputs.parameters.y}}"}]},
                            }
                        ]
                    },
                },
                {
                    "name": "step",
                    "retryStrategy": {"limit": "3", "retryPolicy": "OnError"},
                    "script": {
                        "image": "python:3.12",
                        "command": ["python", "-u"],
                        "source": "import sys\n\nprint(sys.argv)\n",
                    },
                    "activeDeadlineSeconds": 3600,
                    "volumes": [],
                },
            ],
        },
    }
    assert dump(manifest) == """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: etl-
  labels: {}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: load
        template: step
        depends: extract && transform
        arguments:
          parameters:
          - name: x
            value: '{{tasks.extract.outputs.parameters.y}}'
  - name: step
    retryStrategy:
      limit: '3'
      retryPolicy: OnError
    script:
      image: python:3.12
      command:
      - python
      - -u
      source: |
        import sys

        print(sys.argv)
    activeDeadlineSeconds: 3600
    volumes: []
"""
    assert_round_trip(manifest)


def test_scalar_styles() -> None:
    document = {
        "plain": "hello world",
        "word": "yes",
        "caps": "OFF",
        "letter": "y",
        "nothing": "~",
        "octal": "010",
        "exp": "1e3",
        "time": "12:30",
        "date": "2024-01-01",
        "empty": "",
        "spaces": " x ",
        "colon": "a: b",
        "hash": "a #b",
        "quote": "it's",
        "tab": "a\tb",
        "crlf": "a\r\nb",
        "nel": "a\x85b",
        "bom": "\ufeffx",
        "unicode": "caf\u00e9 \U0001F600",
        "keep": "a\n\n",
        "strip": "a\nb",
        "indented": "  a\nb\n",
        "trailing": "a \nb",
        "int": -12,
        "float": 1.0,
        "big": 1e16,
        "small": 1e-05,
        "inf": float("inf"),
        "ninf": float("-inf"),
        "nan": float("nan"),
        "t": True,
        "f": False,
        "none": None,
        "nested": [[1, 2], [], {}, [{"a": 1}]],
        "? key": 1,
    }
    assert dump(document) == """\
plain: hello world
word: 'yes'
caps: 'OFF'
letter: 'y'
nothing: '~'
octal: '010'
exp: '1e3'
time: '12:30'
date: '2024-01-01'
empty: ''
spaces: ' x '
colon: 'a: b'
hash: 'a #b'
quote: it's
tab: "a\\tb"
crlf: "a\\r\\nb"
nel: "a\\x85b"
bom: "\\ufeffx"
unicode: caf\u00e9 \U0001F600
keep: |+
  a

strip: |-
  a
  b
indented: |2
    a
  b
trailing: "a \\nb"
int: -12
float: 1.0
big: 1.0e+16
small: 1.0e-05
inf: .inf
ninf: -.inf
nan: .nan
t: true
f: false
none: null
nested:
- - 1
  - 2
- []
- {}
- - a: 1
'? key': 1
"""
    assert_round_trip(document)


def test_root_scalars_and_documents() -> None:
    assert dump("x") == "x\n"
    assert dump("a\nb") == '"a\\nb"\n'
    assert dump(None) == "null\n"
    assert dump({}) == "{}\n"
    assert dump([]) == "[]\n"
    assert dump_all([{"a": 1}, [1], "s"]) == "a: 1\n---\n- 1\n---\ns\n"
    assert dump_all([]) == ""


def test_same_data_same_bytes() -> None:
    document = {"b": [1, "x\ny", {"c": None}], "a": "z"}
    assert dump(document) == dump({"b": [1, "x\ny", {"c": None}], "a": "z"})
    assert dump(document).startswith("b:")  # insertion order, not sorted


def test_rejects_what_a_manifest_cannot_hold() -> None:
    with pytest.raises(TypeError, match="keys must be str"):
        dump({1: "a"})
    with pytest.raises(TypeError, match="cannot emit"):
        dump({"a": object()})


def test_importing_the_emitter_does_not_import_pyyaml() -> None:
    code = "import sys, tether.backends.yaml_emit; sys.exit('yaml' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize(
    "text",
    # Read as non-strings by go-yaml v2 (sigs.k8s.io/yaml) or YAML 1.2 but as strings by PyYAML,
    # so a PyYAML round trip cannot catch them: they must be quoted by rule.
    ["y", "Y", "n", "N", "0o17", "1e3", "1E3", "+1_000", "-0b1", "0x_1F", "1.5e3", "+.5", "-Infinity",
     "+inf", "+NaN", "2024-1-2", "2001-12-14 21:59:43.10", "2001-12-14T21:59:43.10Z", "0x1p-2"],
)
def test_quoted_for_go_yaml_and_yaml_1_2(text: str) -> None:
    assert dump(text) == f"'{text}'\n"


@pytest.mark.parametrize(
    "text", ["-c", "--verbose", "inf", "nan", "python:3.12", "a,b", "x#y", "b && c", "caf\u00e9", "1-800-FLOW", "v1.2"]
)
def test_plain_when_every_reader_agrees(text: str) -> None:
    assert dump(text) == f"{text}\n"
    assert_round_trip(text)
