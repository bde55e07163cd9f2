"""Running the app: ``make run``'s supervisor (``devstack``) and gunicorn's worker and logger."""
