"""The YAML front end: spec text -> IR, every node keeping its source span."""
