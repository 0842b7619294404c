"""Kubernetes' rules for names, label keys and label values, as one-line problems.

Shared by the spec's checks (workflow and task names, metadata.labels) and the Argo profile's
(namespace, tolerations, node selectors), so a name means the same everywhere. The rules are
k8s.io/apimachinery/pkg/util/validation/validation.go: `IsDNS1123Label`, `IsDNS1123Subdomain`,
`IsQualifiedName` (label keys and toleration keys) and `IsValidLabelValue`
(https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
"""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
LABEL_HINT = "Kubernetes labels: up to 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"


def dns_label_problem(name: str) -> str | None:
    if len(name) > 63:
        return f"is {len(name)} characters long (at most 63)"
    return None if DNS_LABEL.fullmatch(name) else "is not a lowercase DNS-1123 label"


def dns_subdomain_problem(name: str) -> str | None:
    if len(name) > 253:
        return f"is {len(name)} characters long (at most 253)"
    return None if DNS_SUBDOMAIN.fullmatch(name) else "is not a lowercase DNS-1123 subdomain"


def label_key_problem(key: str) -> str | None:
    """A qualified name: an optional DNS-subdomain prefix and '/', then a name of up to 63."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or dns_subdomain_problem(prefix)):
        return "has an invalid prefix"
    return None if LABEL_NAME.fullmatch(name) else "is not a valid label name"


def label_value_problem(value: str) -> str | None:
    return None if value == "" or LABEL_NAME.fullmatch(value) else "is not valid"


__all__ = [
    "DNS_LABEL", "LABEL_HINT", "dns_label_problem", "dns_subdomain_problem", "label_key_problem", "label_value_problem",
]
