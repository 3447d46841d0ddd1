"""Queue mode: executions run on worker processes that share one PostgreSQL store.

The job queue is Procrastinate (PostgreSQL only, asyncio-native): an execution is
stored as `queued` with its first checkpoint, then one job per start or resume
carries its id; a worker claims the execution row (one claimer wins) and runs
it from its last checkpoint. Procrastinate's worker heartbeats find a killed
worker's jobs (a periodic task retries them), and its job locks keep a
workflow's `concurrency` across workers. See docs/team.md.
"""
