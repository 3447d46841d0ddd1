"""Running workflows from the app: the engine thread, the event bridge and the run controller."""
