"""Node types: one module per type, each registering a `NodeSpec` in `registry`."""
