"""What every layer of tether shares, importing nothing else of tether: the frozen IR and its
JSON form, the type and expression languages, diagnostics, node identity and graph rules."""
