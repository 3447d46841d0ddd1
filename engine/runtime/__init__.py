"""The stack-based orchestrator and its serializable run record."""
