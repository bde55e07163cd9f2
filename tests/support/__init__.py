"""What the test tiers share, one module per concern: payloads (uploads as clients write
them), api (submitting and polling), pages (forms, CSRF, sign-in), database (reading and poking
rows), processes (workers, Redis, `make run`, waiting), fakes (SMTP and webhook receivers on
loopback), openapi (every response held to /openapi.json), pdf (reading reports), webserver
(a real gunicorn and a small browser for it)."""
