"""The pages as a browser posts them (CSRF stays on in tests), and operators signing in."""
from __future__ import annotations

import io
import re

#: The CSRF token a page's form carries.
CSRF_TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of the page at ``path``, fetched as a browser would before posting."""
    return CSRF_TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def submit_form(client, *, text=None, file=None, formats=("html", "pdf"), label="", token=True, email="",
                options=(), **kwargs):
    """POST the upload form as a browser does (multipart/form-data). The body is encoded in
    memory: the test client's own encoder spools large bodies to a file it never closes."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    fields = [("formats", name) for name in formats] + [("label", label), ("email", email), *options]
    if token:
        fields.append(("csrf_token", csrf_token(client)))
    if text is not None:
        fields.append(("text", text))
    if file is not None:
        fields.append(("file", FileStorage(io.BytesIO(file[1]), filename=file[0], content_type="application/json")))
    boundary, body = encode_multipart(MultiDict(fields))
    return client.post("/", data=body, content_type=f"multipart/form-data; boundary={boundary}", **kwargs)


def block(page: str, element_id: str) -> str:
    """The text of the element with this id (a div), tags stripped and entities decoded."""
    import html

    match = re.search(rf'<div[^>]*id="{element_id}"[^>]*>(.*?)</div>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


PASSWORD = "correct horse battery staple"


TOKENS = ["first-token-0123456789", "second-token-9876543210"]


def sign_in(client, password: str = PASSWORD, next_path: str | None = None):
    data = {"csrf_token": csrf_token(client, "/signin"), "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/signin", data=data)

