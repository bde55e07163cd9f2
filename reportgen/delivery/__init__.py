"""Getting a finished report to people and programs, one module per channel (``mail``,
``webhooks``) and the job body that sends one and records the attempt (``send``)."""
