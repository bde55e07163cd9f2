"""gunicorn settings, read from the working directory by every gunicorn started in the repository
root or the image's /app (``make run``, the Containerfile, compose's web service); the command
lines keep the rest (bind, workers, threads, logging).

The worker reads each request in full in its event loop before a thread takes it, so clients
that send slowly, or never finish their headers, cannot hold the threads that serve everyone
else (README: Deployment, "Slow clients").
"""
worker_class = "reportgen.serving.gunicorn_worker.BufferingThreadWorker"
