"""gunicorn settings, read from the working directory by every gunicorn started in the repository
root or the image's /app (``make run``, the Containerfile, compose's web service); the command
lines keep the rest (bind, workers, threads, logging).

The worker reads each request in full in its event loop before a thread takes it, so clients
that send slowly, or never finish their headers, cannot hold the threads that serve everyone
else (README: Deployment, "Slow clients").

With ``PROMETHEUS_MULTIPROC_DIR`` set, the workers count requests in files there (README:
Metrics); the master empties it when it starts, so a restart does not add old counts again.
"""
import shutil
from pathlib import Path

worker_class = "reportgen.serving.gunicorn_worker.BufferingThreadWorker"


def on_starting(server):
    from reportgen.config import settings_or_exit

    directory = settings_or_exit().PROMETHEUS_MULTIPROC_DIR
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)
