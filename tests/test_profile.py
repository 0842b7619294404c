"""The typed profile reader: a target's section read into its frozen dataclass by field type,
every unknown key and bad value a located diagnostic; with no file, every default."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import pytest

from tether.backends import Profile, resolve_images
from tether.backends.profile import describe, load_profile
from tether.core.diagnostics import Diagnostics, Severity, Span
from tether.core.ir import Container, Task, Workflow
from tether.core.expr import Literal as Lit


@dataclass(frozen=True)
class Pod:
    node_selector: Mapping[str, str] = field(default_factory=dict, metadata={"key": "nodeSelector"})
    tolerations: tuple[str, ...] = ()
    affinity: Any = None


@dataclass(frozen=True)
class Section:
    namespace: str = field(default="default", metadata={"help": "where workflows are submitted"})
    service_account: str | None = field(default=None, metadata={"key": "serviceAccount"})
    parallelism: int | None = None
    kind: Literal["workflow", "template"] = "workflow"
    ratio: float = 1.0
    debug: bool = False
    pod: Pod = Pod()


TARGETS = ("argo", "batch", "ir", "local")


def read(text: str | None, profile_type: type | None = Section) -> tuple[Profile, list[tuple[str, str, int, int, str | None]]]:
    diagnostics = Diagnostics()
    profile = load_profile(
        None if text is None else "p.yaml", "argo", profile_type, diagnostics, {"kind": "x"}, TARGETS, text=text,
    )
    found = [(d.code, d.message, d.span.line if d.span else 0, d.span.col if d.span else 0, d.hint) for d in diagnostics.sorted()]
    return profile, found


def test_no_profile_file_gives_every_default() -> None:
    profile, found = read(None)
    assert found == []
    assert profile == Profile(target=Section(), options={"kind": "x"})


def test_a_full_section_is_read_into_its_dataclass() -> None:
    profile, found = read(
        "store: s3://bucket/runs\n"
        "image: python:3.12\n"
        "argo:\n"
        "  namespace: ml\n"
        "  serviceAccount: runner\n"
        "  parallelism: 4\n"
        "  kind: template\n"
        "  ratio: 2\n"
        "  debug: true\n"
        "  pod:\n"
        "    nodeSelector: {zone: eu-1a}\n"
        "    tolerations: [spot]\n"
        "    affinity: {nodeAffinity: [{key: zone, values: [a, 1]}]}\n"
        "batch:\n"
        "  jobQueue: other-targets-keys-are-not-checked-here\n"
    )
    assert found == []
    assert profile.store == "s3://bucket/runs" and profile.image == "python:3.12"
    assert profile.target == Section("ml", "runner", 4, "template", 2.0, True, Pod({"zone": "eu-1a"}, ("spot",), {"nodeAffinity": [{"key": "zone", "values": ["a", 1]}]}))
    assert profile.span_of("argo.pod.nodeSelector.zone") == Span("p.yaml", 11, 26, 11, 31)
    assert profile.span_of("argo.namespace") == Span("p.yaml", 4, 14, 4, 16)


def test_unknown_keys_and_bad_values_are_located_with_a_hint() -> None:
    _, found = read(
        "stor: s3://x\n"
        "argo:\n"
        "  namespce: ml\n"
        "  parallelism: '3'\n"
        "  kind: templat\n"
        "  debug: 1\n"
        "  pod:\n"
        "    nodeSelector: {gpu: true}\n"
        "    tolerations: spot\n"
    )
    assert found == [
        ("E133", "unknown key 'stor' in the profile", 1, 1, "did you mean 'store'?"),
        ("E133", "unknown key 'namespce' in 'argo'", 3, 3, "did you mean 'namespace'?"),
        ("E132", "'argo.parallelism' must be an integer, not '3'", 4, 16, "write the number without quotes"),
        ("E132", "'argo.kind' must be one of workflow, template, not 'templat'", 5, 9, "did you mean 'template'?"),
        ("E132", "'argo.debug' must be true or false, not the number 1", 6, 10, None),
        ("E132", "'argo.pod.nodeSelector.gpu' must be a string, not the boolean true", 8, 25, "quote it: 'true'"),
        ("E132", "'argo.pod.tolerations' must be a list, not 'spot'", 9, 18, "write [a, b] or one '- item' per line"),
    ]


def test_shape_errors_are_reported_not_raised() -> None:
    assert read("- a\n- b\n")[1] == [
        ("E132", "the profile must be a mapping with store, image and one section per target, not a list", 1, 1, None),
    ]
    assert read("argo: [1]\n")[1][0][:2] == ("E132", "'argo' must be a mapping, not a list")
    assert read("argo:\n  namespace: a\n  namespace: b\n")[1][0][:2] == ("E132", "key 'argo.namespace' is given twice")
    code, message, line, col, _ = read("argo: {namespace: [}\n")[1][0]
    assert (code, line) == ("E130", 1) and message.startswith("profile is not valid YAML")


def test_yaml_tags_are_refused_not_constructed() -> None:
    """A profile is plain data, as a spec is (E103 there): a tag is located, never a traceback."""
    profile, found = read("store: !custom s3://b\nargo: {parallelism: !!int abc, ratio: !!float '2'}\n")
    assert [(c, m, line, col) for c, m, line, col, _ in found] == [
        ("E132", "'store': YAML tag '!custom' is not allowed", 1, 8),
        ("E132", "'argo.parallelism': 'abc' is not a valid int", 2, 21),
    ]
    assert profile.target.ratio == 2.0  # a core tag written out is fine


def test_an_empty_file_or_section_keeps_the_defaults() -> None:
    assert read("")[0].target == Section()
    assert read("argo:\n")[0].target == Section()


def test_a_section_for_a_target_without_a_profile_type_is_an_error() -> None:
    profile, found = read("store: s3://b\nargo: {namespace: x}\n", profile_type=None)
    assert profile.store == "s3://b" and profile.target is None
    assert [f[:3] for f in found] == [("E131", "target 'argo' takes no profile section", 2, )[:3]]


def test_a_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    diagnostics = Diagnostics()
    profile = load_profile(str(tmp_path / "absent.yaml"), "argo", Section, diagnostics)
    assert profile.target == Section()
    assert [d.code for d in diagnostics] == ["E130"]


def test_describe_lists_keys_types_defaults_and_help() -> None:
    rows = {key: (kind, default, help_text) for key, kind, default, help_text in describe(Section)}
    assert rows["namespace"] == ("a string", "default", "where workflows are submitted")
    assert rows["serviceAccount"] == ("a string or null", None, "")
    assert rows["kind"] == ("one of workflow, template", "workflow", "")


def test_unsupported_takes_the_level_the_cli_chose() -> None:
    strict, lenient = Diagnostics(), Diagnostics(unsupported_level=Severity.WARNING)
    for diagnostics in (strict, lenient):
        diagnostics.unsupported("Argo cannot express X", None, "drop X")
    assert strict.has_errors and not lenient.has_errors
    assert lenient.items[0].code == "E410" and lenient.items[0].severity is Severity.WARNING


@pytest.mark.parametrize("image", [None, "python:3.12"])
def test_resolve_images_fills_from_the_profile_or_reports(image: str | None) -> None:
    workflow = Workflow("wf", tasks=(
        Task("own", python="m:f", image="mine:1"),
        Task("none", container=Container((Lit("true"),)), span=Span("wf.yaml", 7, 5)),
    ))
    diagnostics = Diagnostics()
    resolved = resolve_images(workflow, Profile(image=image), diagnostics)
    assert [t.image for t in resolved.tasks] == ["mine:1", image]
    if image is None:
        (d,) = diagnostics
        assert (d.code, d.message, d.span) == ("E411", "task 'none' has no image", Span("wf.yaml", 7, 5))
    else:
        assert len(diagnostics) == 0


def test_argo_profile_values_are_checked_where_they_are_written() -> None:
    """Values Kubernetes or Argo would refuse are located in the profile, not found at submit."""
    from tether.backends.argo_profile import ArgoProfile

    text = (
        "argo:\n"
        "  namespace: Bad NS\n"
        "  imagePullPolicy: Sometimes\n"
        "  cacheMaxAge: forever\n"
        "  spotTolerations: ['k=v:Nope']\n"
        "  spotNodeSelector: {'bad key!': x}\n"
        "  parallelism: 0\n"
        "  tether: []\n"
    )
    diagnostics = Diagnostics()
    load_profile("p.yaml", "argo", ArgoProfile, diagnostics, {}, TARGETS, text=text)
    found = {(d.span.line, d.message.split("'")[1]) for d in diagnostics if d.span is not None}
    assert found == {(2, "argo.namespace"), (3, "argo.imagePullPolicy"), (4, "argo.cacheMaxAge"),
                     (5, "argo.spotTolerations"), (6, "argo.spotNodeSelector"), (7, "argo.parallelism"),
                     (8, "argo.tether")}
    good = "argo: {namespace: data, cacheMaxAge: 1h30m, spotTolerations: ['spot=true:NoSchedule', dedicated], parallelism: 2}\n"
    diagnostics = Diagnostics()
    profile = load_profile("p.yaml", "argo", ArgoProfile, diagnostics, {}, TARGETS, text=good)
    assert not diagnostics.has_errors and profile.target.cache_max_age == "1h30m"


def test_argo_profile_edges_kubernetes_and_go_refuse() -> None:
    from tether.backends.argo_profile import ArgoProfile

    def problems(section: str) -> list[str]:
        diagnostics = Diagnostics()
        load_profile("p.yaml", "argo", ArgoProfile, diagnostics, {}, TARGETS, text=f"argo: {section}\n")
        return [d.message for d in diagnostics if d.is_error]

    assert "empty key" in problems("{spotTolerations: ['=true:NoSchedule']}")[0]
    assert "at most 2**63 - 1" in problems("{parallelism: 99999999999999999999999}")[0]
    assert "longer than Go's time.Duration" in problems("{cacheMaxAge: '99999999999999999999h'}")[0]
    assert problems("{cacheMaxAge: '1\u03bcs'}") == problems("{cacheMaxAge: '1\u00b5s'}") == []
    assert problems("{argoVersion: 4}") == [] and problems("{spotTolerations: [':NoSchedule']}") == []
    assert "YAML tag '!foo' is not allowed" in problems("!foo {namespace: a}")[0]
