"""The Python authoring API behind `tether.task` and `tether.workflow`.

Modules here import only the standard library at import time, so `import tether` stays fast;
the compiler is imported when a workflow is compiled, never when a module is decorated.
"""
