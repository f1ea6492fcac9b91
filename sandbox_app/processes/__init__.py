"""Child processes: the one way to start and stop them, and the programs that run in them."""
