"""Values placed in a container's args so that neither Argo nor the kubelet changes them.

Two programs rewrite a container's args before `tether exec` sees them:

1. Argo reads a template's text more than once. `SubstituteParams`
   (https://github.com/argoproj/argo-workflows/blob/main/workflow/common/util.go) marshals the
   template to JSON, replaces the global and local tags (`workflow.parameters.*`, ...), then scans
   the *result* again to replace `inputs.parameters.*`; a template input's value sits in that JSON
   too (`ProcessArgs` copies the DAG task's argument into `inputs.parameters[].value` first), and
   the DAG task's arguments were themselves substituted (`resolveDependencyReferences`,
   workflow/controller/dag.go). So a value holding `{{` is read as a tag (`{{workflow.name}}` is
   replaced) or fails the node (`}}{{`: fasttemplate "Cannot find end tag"), wherever it arrives.
   An expression tag's result is not scanned again only if it holds no `{{`. A loop item is
   substituted into the DAG task after that (`expandTask` in dag.go, `processItem` in
   workflow/controller/operator.go), so it reaches the template's inputs the same way.
2. The kubelet expands `$(VAR)` and reduces `$$` to `$` in `command` and `args`
   (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/
   "Use environment variables to define arguments"; the Container API's `args`: "Variable
   references $(VAR_NAME) are expanded using the container's environment ... Double $$ are reduced
   to a single $, which allows for escaping the $(VAR_NAME) syntax",
   https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#entrypoint),
   in one pass: an expanded value is never read again.

So every value that lands in args is escaped for the kubelet, whose expansion is the last step
and undoes it exactly: `$` becomes `$$`, and `{` becomes `$(TETHER_LBRACE)` with that variable
defined as `{` in the container, so no `{{` ever reaches Argo's later passes
(`tether.core.values.escape_for_kubernetes`). Literals are escaped here; workflow inputs by Argo
itself with a `{{=...}}` expression (`sprig.replace`, util/expr/env/env.go `GetFuncMap`), whose
result is written once (util/template/expression_template.go `expressionReplaceCore`); and values
made at run time by `tether exec --outputs-escape kubernetes`, which writes each output file (and
each decided loop item) already escaped, so an output tag costs no more than a plain one.
"""

from __future__ import annotations

from typing import Any

from ..core.values import LBRACE_ENV, escape_for_kubernetes

LBRACE_VAR = f"$({LBRACE_ENV})"
LBRACE_ENTRY: dict[str, Any] = {"name": LBRACE_ENV, "value": "{"}
"""The container env entry the escaped text needs (env values are expanded too: `{` has no `$`)."""
OUTPUTS_ESCAPE = ["--outputs-escape", "kubernetes"]
"""`tether exec` writes outputs (and loop items) as they must be written in args (runtime/cluster.py)."""


def escape_literal(text: str) -> str:
    """`text` as written in args (directly, or through a template input) so the process gets `text`."""
    return escape_for_kubernetes(text)


def escape_tag(expression: str) -> str:
    """An Argo tag whose value is `expression`'s string, escaped as `escape_literal` does."""
    return f"{{{{=sprig.replace('{{', '{LBRACE_VAR}', sprig.replace('$', '$$', {expression}))}}}}"


def workflow_input(name: str) -> str:
    """The escaped value of workflow input `name` (bracketed: a name may hold `-`)."""
    return escape_tag(f"workflow.parameters['{name}']")


__all__ = ["LBRACE_ENTRY", "LBRACE_ENV", "OUTPUTS_ESCAPE", "escape_literal", "escape_tag", "workflow_input"]
