"""The `argo:` section of a compile profile: where and how the pods of a compiled workflow run.

Kept apart from the backend so that `tether check --profile` can read it without loading the
compiler, and so every knob is documented in one place (field `metadata["help"]`).

Spot presets (`spot:`), each the node label its platform puts on spot / preemptible capacity:
- `eks`: EKS managed node groups label spot nodes `eks.amazonaws.com/capacityType: SPOT`
  (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html#managed-node-group-capacity-types);
- `karpenter`: Karpenter labels its nodes `karpenter.sh/capacity-type: spot` (the well-known
  label a NodePool requirement selects on, https://karpenter.sh/docs/concepts/scheduling/);
- `gke`: GKE labels Spot VM nodes `cloud.google.com/gke-spot: "true"` and documents the matching
  toleration for node pools tainted `cloud.google.com/gke-spot=true:NoSchedule`
  (https://cloud.google.com/kubernetes-engine/docs/how-to/spot-vms);
- `custom`: only `spotNodeSelector`, `spotTolerations` and `spotAffinity` below;
- `none`: interruptible tasks get no scheduling constraint (they still get their budget).
The custom fields are added to any preset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from ..core.k8s_names import dns_label_problem, dns_subdomain_problem, label_key_problem, label_value_problem
from .profile import command_problem

SpotPreset = Literal["eks", "karpenter", "gke", "custom", "none"]
Kind = Literal["workflow", "template", "cron"]
ArgoVersion = Literal["4", "3"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]  # core/v1 Container.imagePullPolicy

_GO_DURATION = re.compile(r"(\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")  # Go takes both mus
_GO_UNIT_NS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_MAX_INT64 = 2**63 - 1
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")  # core/v1 TaintEffect


def _go_duration_problem(text: str) -> str | None:
    """Go's time.ParseDuration, which Argo applies to memoize.maxAge (workflow/controller/cache)."""
    rest = text[1:] if text[:1] in "+-" else text
    if rest == "0":
        return None
    position, total = 0, 0.0
    while position < len(rest):
        match = _GO_DURATION.match(rest, position)
        if match is None:
            return "is not a Go duration"
        total += float(match.group(1)) * _GO_UNIT_NS[match.group(3)]
        position = match.end()
    if not rest:
        return "is not a Go duration"
    return None if total <= _MAX_INT64 else "is longer than Go's time.Duration holds (about 292 years)"


def _labels_problem(labels: Mapping[str, str]) -> str | None:
    for key, value in labels.items():
        problem = label_key_problem(key)
        if problem:
            return f"has a key '{key}' that {problem}"
        problem = label_value_problem(value)
        if problem:
            return f"has a value '{value}' that {problem}"
    return None


def _tolerations_problem(items: list[str]) -> str | None:
    for text in items:
        toleration = parse_toleration(text)
        key = toleration["key"]
        if not key and "value" in toleration:  # core/v1 Toleration: "If the key is empty, operator must be Exists"
            return f"has '{text}', which gives a value to an empty key (an empty key tolerates every taint: write ':EFFECT')"
        if key and label_key_problem(key):
            return f"has '{text}', whose key '{key}' {label_key_problem(key)}"
        if "value" in toleration and label_value_problem(toleration["value"]):
            return f"has '{text}', whose value '{toleration['value']}' is not a valid label value"
        effect = toleration.get("effect")
        if effect is not None and effect not in _EFFECTS:
            return f"has '{text}', whose effect '{effect}' is not one of {', '.join(_EFFECTS)}"
    return None


def _timezone_problem(name: str) -> str | None:
    """An IANA name, as Argo checks a CronWorkflow's timezone (time.LoadLocation); skipped where
    this Python has no time zone database to ask."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except zoneinfo.ZoneInfoNotFoundError:
        return None if not zoneinfo.available_timezones() else "is not an IANA time zone (e.g. Europe/Paris)"
    except ValueError:
        return "is not an IANA time zone (e.g. Europe/Paris)"
    return None


def _positive(value: int) -> str | None:
    if value > _MAX_INT64:
        return "must be at most 2**63 - 1 (an int64 in Argo's spec)"
    return None if value >= 1 else "must be 1 or more"


def _no_labels() -> dict[str, str]:
    return {}


def _no_strings() -> list[str]:
    return []


@dataclass(frozen=True)
class ArgoProfile:
    """The `argo:` section of a profile file (every field optional)."""

    argo_version: ArgoVersion = field(
        default="4", metadata={"key": "argoVersion", "help": "the controller's major version, 4 or 3 (3.6+)"}
    )
    namespace: str | None = field(
        default=None, metadata={"help": "metadata.namespace of every manifest", "check": dns_label_problem}
    )
    service_account: str | None = field(
        default=None,
        metadata={"key": "serviceAccountName", "help": "spec.serviceAccountName the pods run as", "check": dns_subdomain_problem},
    )
    kind: Kind | None = field(
        default=None,
        metadata={"help": "workflow | template | cron (default: cron for a spec with a schedule, else workflow); "
                  "`-O kind=...` overrides it"},
    )
    timezone: str | None = field(
        default=None,
        metadata={"help": "CronWorkflow timezone (IANA name, e.g. Europe/Paris); default UTC", "check": _timezone_problem},
    )
    spot: SpotPreset = field(default="karpenter", metadata={"help": "spot scheduling preset for interruptible tasks"})
    spot_node_selector: Mapping[str, str] = field(
        default_factory=_no_labels,
        metadata={"key": "spotNodeSelector", "help": "extra nodeSelector for interruptible tasks", "check": _labels_problem},
    )
    spot_tolerations: list[str] = field(
        default_factory=_no_strings,
        metadata={"key": "spotTolerations", "help": "tolerations for interruptible tasks, kubectl taint syntax: "
                  "KEY[=VALUE]:EFFECT", "check": _tolerations_problem,
                  "hint": "write KEY[=VALUE]:EFFECT, e.g. spot=true:NoSchedule"},
    )
    spot_affinity: Mapping[str, str] = field(
        default_factory=_no_labels,
        metadata={"key": "spotAffinity", "help": "required node affinity (label KEY: VALUE) for interruptible tasks",
                  "check": _labels_problem},
    )
    parallelism: int | None = field(
        default=None, metadata={"help": "spec.parallelism: pods running at once", "check": _positive}
    )
    cache_config_map: str = field(
        default="tether-cache",
        metadata={"key": "cacheConfigMap", "help": "ConfigMap that holds memoized outputs", "check": dns_subdomain_problem},
    )
    cache_max_age: str = field(
        default="720h",
        metadata={"key": "cacheMaxAge", "help": "how long a memoized output is reused (Go duration)",
                  "check": _go_duration_problem, "hint": "write a Go duration: 720h, 30m, 1h30m"},
    )
    tether: list[str] = field(
        default_factory=lambda: ["tether"],
        metadata={"help": "the command that runs tether inside the image", "check": command_problem},
    )
    image_pull_policy: PullPolicy | None = field(
        default=None, metadata={"key": "imagePullPolicy", "help": "Always | IfNotPresent | Never"}
    )


_PRESETS: Mapping[str, tuple[Mapping[str, str], tuple[Mapping[str, str], ...]]] = {
    "eks": ({"eks.amazonaws.com/capacityType": "SPOT"}, ()),
    "karpenter": ({"karpenter.sh/capacity-type": "spot"}, ()),
    "gke": (
        {"cloud.google.com/gke-spot": "true"},
        ({"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},),
    ),
    "custom": ({}, ()),
    "none": ({}, ()),
}


def spot_scheduling(profile: ArgoProfile) -> dict[str, Any]:
    """The pod-spec fields (nodeSelector, tolerations, affinity) an interruptible task gets."""
    selector, tolerations = _PRESETS[profile.spot]
    out: dict[str, Any] = {}
    merged = {**selector, **profile.spot_node_selector}
    if merged:
        out["nodeSelector"] = dict(sorted(merged.items()))
    all_tolerations = [dict(t) for t in tolerations] + [parse_toleration(t) for t in profile.spot_tolerations]
    if all_tolerations:
        out["tolerations"] = all_tolerations
    if profile.spot_affinity:
        out["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": k, "operator": "In", "values": [v]}
                                for k, v in sorted(profile.spot_affinity.items())
                            ]
                        }
                    ]
                }
            }
        }
    return out


def parse_toleration(text: str) -> dict[str, str]:
    """`key=value:Effect`, `key:Effect` or `key` (kubectl taint syntax) as a Toleration."""
    body, _, effect = text.partition(":")
    key, eq, value = body.partition("=")
    out = {"key": key, "operator": "Equal" if eq else "Exists"}
    if eq:
        out["value"] = value
    if effect:
        out["effect"] = effect
    return out


__all__ = ["ArgoProfile", "parse_toleration", "spot_scheduling"]
