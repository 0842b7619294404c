"""Front ends and the IR: everything before a backend is chosen."""
