from tests.engine.store.fixtures import db, pg_fresh_url, svc  # noqa: F401
