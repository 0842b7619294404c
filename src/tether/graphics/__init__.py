"""Pictures of workflows and runs: a graph model built from the IR, a layered layout, and
renderers for Mermaid, Graphviz DOT and self-contained HTML (inline SVG, no network).

Layering: this package reads `tether.core` (the IR) and `tether.runtime` (the run store), never
`tether.compiler`; the `graph` and `report` commands load specs and call in here.
"""
