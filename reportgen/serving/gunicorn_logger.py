"""gunicorn's own logs (errors and access) in reportgen's format: ``--logger-class
reportgen.serving.gunicorn_logger.JsonLogger``. With ``REPORTGEN_LOG_FORMAT=text`` it is gunicorn's
default logger."""
from __future__ import annotations

from gunicorn.glogging import Logger

from ..config import settings_or_exit
from ..logs import JsonFormatter


class JsonLogger(Logger):
    """Error lines as JSON objects, and one JSON object per request with its fields."""

    def setup(self, cfg):
        super().setup(cfg)
        # gunicorn's master sets up its logger first: bad settings stop it before any worker forks.
        self.json = settings_or_exit().REPORTGEN_LOG_FORMAT == "json"
        if self.json:
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.json:
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        # Logged by the thread that served the request, so it carries the request's task_id.
        self.access_log.info("%s %s %s", atoms["m"], atoms["U"], atoms["s"], extra={
            "method": atoms["m"], "path": atoms["U"], "status": int(atoms["s"]), "bytes": atoms["B"],
            "duration_ms": atoms["M"], "remote_addr": atoms["h"], "user_agent": atoms["a"],
        })
