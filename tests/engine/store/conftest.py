from tests.engine.store.fixtures import db_fixture, pg_fresh_url_fixture, svc_fixture  # noqa: F401
