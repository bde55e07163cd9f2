"""``flask --app wsgi reportgen new-token``: a new API token and the digest the server keeps."""
from __future__ import annotations

import click

from ..cli import operator_cli
from .credentials import new_token


@operator_cli.command("new-token")
def new_token_command() -> None:
    """Print a new API bearer token and its SHA-256 line for REPORTGEN_API_TOKENS_FILE."""
    token, digest = new_token()
    click.echo("API token (give it to the client; it is not stored anywhere):")
    click.echo(f"  {token}")
    click.echo("Its line for the file named by REPORTGEN_API_TOKENS_FILE (then restart the web server):")
    click.echo(f"  {digest}")
