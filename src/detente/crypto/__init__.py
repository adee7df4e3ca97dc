"""Key files and (later) encryption."""
