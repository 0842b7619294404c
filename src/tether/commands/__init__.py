"""One module per `tether` subcommand: `add_arguments(parser)` and `run(args) -> exit code`.

Top-level imports here stay light: building the parser imports every command module."""
