"""Task policies in YAML: retries, interruptible, checkpoint, resources, timeout, cache, env, secrets.

Each reader turns one task key (after `defaults` are merged in) into the IR's policy value in
canonical units, reporting a bad value once and using its neutral default (no retries, no
timeout, ...) so the rest of the spec is still checked. Readers record the nodes of sub-keys
(`retries.count`, `resources.cpu`, ...) in `nodes`, which becomes the task's diagnostic spans.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ...core.ir import Backoff, CachePolicy, CheckpointPolicy, InterruptPolicy, Resources, RetryPolicy, Secret
from ..quantities import QuantityError, parse_cpu, parse_duration, parse_memory
from .nodes import BOOL_TAG, MISSING, Entry, NodeReader, describe, resolved_tag, scalar_value, word

RETRY_KEYS = ("count", "backoff")
BACKOFF_KEYS = ("delay", "factor", "max_delay")
RESOURCE_KEYS = ("cpu", "memory", "gpu")
SECRET_KEYS = ("name", "key", "env")

POLICY_SUB_KEYS: dict[str, tuple[str, ...] | None] = {
    "resources": RESOURCE_KEYS,
    "env": None,
    "retries": RETRY_KEYS,
    "interruptible": ("max_interruptions",),
    "checkpoint": ("keep",),
    "cache": ("version",),
}


class PolicyReader(NodeReader):
    """The policy keys of a task; `nodes` collects the spans of their sub-keys."""

    def switch(self, entry: Entry, option: str, what: str) -> bool | Entry:
        """`true`, `false` or `{OPTION: value}` (interruptible, checkpoint, cache).

        True/False for the flag (a mapping without OPTION is True: on, with the default), else
        the OPTION entry. A wrong shape is reported and reads as False (the policy is off).
        """
        if entry.merged is not None:
            return entry.merged.get(option, True)
        if isinstance(entry.value, ScalarNode) and resolved_tag(entry.value) == BOOL_TAG:
            return bool(scalar_value(entry.value))
        if isinstance(entry.value, MappingNode) and id(entry.value) not in self.bad_nodes:
            return self.entries(entry.value, entry.path, (option,)).get(option, True)
        if id(entry.value) not in self.bad_nodes:
            self.error("E109", f"'{entry.path}' must be true, false or {what}, not {describe(entry.value)}", self.span(entry.value))
        return False

    def duration(self, entry: Entry, positive: bool) -> int | None:
        value = self.scalar(entry)
        if value is MISSING:
            return None
        try:
            seconds = parse_duration(value)
        except QuantityError as exc:
            self.error("E111", f"'{entry.path}': {exc}", self.span(entry.value), exc.hint)
            return None
        if positive and seconds == 0:
            self.error("E111", f"'{entry.path}' must be longer than 0s", self.span(entry.value), "leave it out for no limit")
            return None
        return seconds

    def retries(self, entry: Entry, nodes: dict[str, Node]) -> RetryPolicy:
        if isinstance(entry.value, ScalarNode) and entry.merged is None:
            return RetryPolicy(self.count(entry, 0, 0))
        fields = self.sub(entry, RETRY_KEYS)
        if fields is None:
            return RetryPolicy()
        count = 0
        if "count" in fields:
            count = self.count(fields["count"], 0, 0)
            nodes["retries.count"] = fields["count"].value
        else:  # `retries: {}` or only a backoff: no unambiguous number of retries
            self.error(
                "E108", f"'{entry.path}' has no 'count'", self.span(entry.key),
                "add 'count: N', the retries after the first attempt (or write 'retries: N')",
            )
        backoff = self.backoff(fields["backoff"]) if "backoff" in fields else None
        return RetryPolicy(count, backoff)

    def backoff(self, entry: Entry) -> Backoff | None:
        fields = self.sub(entry, BACKOFF_KEYS)
        if fields is None:
            return None
        if "delay" not in fields:
            self.error("E108", f"'{entry.path}' has no 'delay'", self.span(entry.key), "add 'delay: 30s'")
            return None
        delay = self.duration(fields["delay"], positive=False)
        factor = 2.0
        if "factor" in fields:
            value = self.scalar(fields["factor"])
            if value is not MISSING:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    self.error("E109", f"'{fields['factor'].path}' must be a number, not {describe(fields['factor'].value)}", self.span(fields["factor"].value))
                elif not 1 <= value < float("inf"):
                    self.error("E113", f"'{fields['factor'].path}' must be 1 or more, not {value}", self.span(fields["factor"].value), "1 keeps the delay constant; 2 doubles it")
                else:
                    factor = float(value)
        max_delay = self.duration(fields["max_delay"], positive=False) if "max_delay" in fields else None
        if delay is None:
            return None
        return Backoff(delay, factor, max_delay)

    def interruptible(self, entry: Entry) -> InterruptPolicy | None:
        setting = self.switch(entry, "max_interruptions", "{max_interruptions: N}")
        if isinstance(setting, bool):
            return InterruptPolicy() if setting else None
        return InterruptPolicy(self.count(setting, 0, InterruptPolicy().max_interruptions))

    def checkpoint(self, entry: Entry) -> CheckpointPolicy | None:
        setting = self.switch(entry, "keep", "{keep: N}")
        if isinstance(setting, bool):
            return CheckpointPolicy() if setting else None
        return CheckpointPolicy(self.count(setting, 1, CheckpointPolicy().keep))

    def cache(self, entry: Entry) -> CachePolicy | None:
        setting = self.switch(entry, "version", "{version: \"1\"}")
        if isinstance(setting, bool):
            return CachePolicy() if setting else None
        version = self.scalar(setting)
        if version is MISSING or version is None or isinstance(version, bool):
            if version is not MISSING:
                self.error("E109", f"'{setting.path}' must be a string, not {describe(setting.value)}", self.span(setting.value))
            return CachePolicy()
        return CachePolicy(word(version))

    def resources(self, entry: Entry, nodes: dict[str, Node]) -> Resources:
        fields = self.sub(entry, RESOURCE_KEYS)
        if fields is None:
            return Resources()
        values: dict[str, Any] = {}
        for key, parse, field_name in (("cpu", parse_cpu, "cpu_millicores"), ("memory", parse_memory, "memory_bytes")):
            if key not in fields:
                continue
            nodes[f"resources.{key}"] = fields[key].value
            value = self.scalar(fields[key])
            if value is MISSING:
                continue
            try:
                values[field_name] = parse(value)
            except QuantityError as exc:
                self.error("E112", f"'{fields[key].path}': {exc}", self.span(fields[key].value), exc.hint)
        if "gpu" in fields:
            nodes["resources.gpu"] = fields["gpu"].value
            values["gpu"] = self.count(fields["gpu"], 0, 0)
        return Resources(**values)

    def env(self, entry: Entry, nodes: dict[str, Node]) -> tuple[tuple[str, str], ...]:
        fields = self.sub(entry, None)
        if fields is None:
            return ()
        result = []
        for name, item in fields.items():
            nodes[f"env.{name}"] = item.key
            value = self.scalar(item)
            if value is MISSING:
                continue
            if value is None:
                self.error("E109", f"'{item.path}' must be a string, not null", self.span(item.value), 'write an empty string as ""')
                continue
            text = word(value)
            if "${{" in text:
                self.error(
                    "E201", f"'{item.path}': expressions are not allowed in env values", self.span(item.value),
                    "pass data through the task's inputs; env holds constant settings",
                )
                continue
            result.append((name, text))
        return tuple(result)

    def secrets(self, entry: Entry, nodes: dict[str, Node]) -> tuple[Secret, ...]:
        if not self.expect(entry, SequenceNode, "a list of {name, key, env}"):
            return ()
        result: list[Secret] = []
        for i, node in enumerate(entry.value.value):
            item = Entry(entry.key, node, f"{entry.path}[{i}]")
            fields = self.sub(item, SECRET_KEYS)
            if fields is None:
                continue
            missing = [k for k in SECRET_KEYS if k not in fields]
            if missing:
                self.error(
                    "E108", f"'{item.path}' has no '{missing[0]}'", self.span(node),
                    "a secret is {name: STORE-NAME, key: KEY, env: ENV_VAR}",
                )
                continue
            values = [self.string(fields[k]) for k in SECRET_KEYS]
            for k, value in zip(SECRET_KEYS[:2], values):  # an empty `env` is E402, from validation
                if value == "":
                    self.error(
                        "E109", f"'{fields[k].path}' must not be empty", self.span(fields[k].value),
                        "a secret is {name: STORE-NAME, key: KEY, env: ENV_VAR}",
                    )
                    values[0] = MISSING
            if all(isinstance(v, str) for v in values):
                nodes[f"secrets[{len(result)}]"] = fields["env"].value  # Task.secrets' index
                result.append(Secret(*values))
        return tuple(result)


__all__ = ["BACKOFF_KEYS", "POLICY_SUB_KEYS", "RESOURCE_KEYS", "RETRY_KEYS", "SECRET_KEYS", "PolicyReader"]
