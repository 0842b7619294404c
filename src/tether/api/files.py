"""`tether.File` and `tether.Dir`: annotations that declare an input or output to be a path.

A task annotated `data: tether.File` gets the `file` type in the IR, so the run store knows to
move the file between tasks rather than pass a string. At run time the value is a path string,
and these classes are `str` subclasses so a task can also return `tether.File("out.csv")`.
"""

from __future__ import annotations


class File(str):
    """A path to a single file (IR type `file`)."""

    __slots__ = ()


class Dir(str):
    """A path to a directory tree (IR type `dir`)."""

    __slots__ = ()
