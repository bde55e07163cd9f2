"""Fixtures of the integration tier beyond the servers of tests/conftest.py."""
import pytest

from reportgen import create_app
from reportgen.extensions import db

from ..support.fakes import WEBHOOK_SECRET, WebhookReceiver


@pytest.fixture
def hook_app(app, config):
    """An app that takes callback URLs on loopback (``app`` has emptied the database and Redis)."""
    hook_app = create_app({**config, "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET,
                           "REPORTGEN_WEBHOOK_ALLOW": ["127.0.0.1"]})
    yield hook_app
    with hook_app.app_context():
        db.engine.dispose()


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver:
        yield receiver
