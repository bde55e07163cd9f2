"""Email over TLS to a real aiosmtpd server with a certificate of a test CA (trustme): implicit
TLS (`SMTP_SSL`, "SMTPS" on port 465) and STARTTLS, both verifying the server's certificate."""
import pytest
from aiosmtpd.controller import Controller

from reportgen import create_app
from reportgen.extensions import db

from ..support.api import status, submit
from ..support.fakes import Mailbox
from ..support.processes import free_port


@pytest.fixture
def test_ca(tmp_path):
    import trustme

    authority = trustme.CA()
    server_certificate = authority.issue_cert("127.0.0.1", "localhost")
    bundle = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return authority, server_certificate, bundle


@pytest.mark.parametrize("transport", ["SMTP_SSL", "SMTP_STARTTLS"])
def test_email_is_sent_over_tls_with_the_servers_certificate_verified(config, app, run_worker, test_ca, transport):
    import ssl

    _, server_certificate, bundle = test_ca
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_certificate.configure_cert(context)
    box, port = Mailbox(), free_port()
    tls = {"ssl_context": context} if transport == "SMTP_SSL" else {"tls_context": context, "require_starttls": True}
    controller = Controller(box, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        smtp_app = create_app({**config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port})
        client = smtp_app.test_client()
        task_id = submit(client, "csv", email=["teacher@school.example"])
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), transport: "1",
               "REPORTGEN_MAIL_RETRY_INTERVALS": "1,1"}
        run_worker(SSL_CERT_FILE=str(bundle), **env)
        [email] = status(client, "csv", task_id)["deliveries"]
        assert (email["status"], email["error"]) == ("SENT", None)
        [message] = box.messages
        assert message["To"] == "teacher@school.example"

        # A server whose certificate the worker cannot verify gets nothing.
        box.messages.clear()
        task_id = submit(client, "csv", email=["teacher@school.example"])
        run_worker(**env)  # the system's CAs only: the test CA is unknown
        [email] = status(client, "csv", task_id)["deliveries"]
        assert email["status"] in ("QUEUED", "FAILED") and "CERTIFICATE_VERIFY_FAILED" in email["error"]
        assert box.messages == []
        with smtp_app.app_context():
            db.engine.dispose()
    finally:
        controller.stop()
