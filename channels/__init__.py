"""The outside world: one module per social platform or messenger, each behind a
small contract and registered under its slug."""
