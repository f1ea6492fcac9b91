"""The durable queue: Huey storage (SQLite or Redis), its shared counters, and the consumer process."""
