"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi …``.

Bad settings stop the process here with one line per bad variable (reportgen.config), not a
traceback; a gunicorn worker exits with its "failed to boot" status, so its master stops too.
"""
from reportgen import create_app
from reportgen.config import from_environment, settings_or_exit

app = create_app(settings=from_environment(settings_or_exit()))
