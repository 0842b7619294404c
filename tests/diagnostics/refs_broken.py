"""A module with a syntax error, for the E141 case: `tether check` reports it, never imports it."""


def train(rows: list[list[float]]) -> list[float]
    return rows[0]
