"""A report's life after the request: stored and queued (``submit``), rendered by RQ jobs
(``jobs`` → ``chunks``, ``assembly``), finished (``endings``), canceled (``cancel``), read back
(``stored``, ``status``) and kept honest when Redis or a worker is lost (``sweeper``). Every
change of a report's state is one conditional UPDATE in ``state``."""
