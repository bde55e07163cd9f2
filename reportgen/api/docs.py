"""``/openapi.json`` and ``/docs``: the API's description and an interactive page to try it.

The page is Swagger UI from the ``flask-swagger-ui`` package's bundled assets, served from the
package's own directory (nothing from a CDN, nothing copied into ``static/``). Its HTML is ours
(``templates/api/docs.html``) and its start-up script a static file, so it runs under the app's
Content-Security-Policy without inline script. Both routes are public, like ``/healthz``: they
describe the API and hold no data. A blueprint of their own, outside ``/assignment``, so they
never need a token.
"""
from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, abort, current_app, jsonify, render_template, send_from_directory

from .openapi import document

bp = Blueprint("apidocs", __name__)

#: Swagger UI's files the page loads; nothing else of the package is served.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")


def assets_dir() -> str:
    return str(files("flask_swagger_ui") / "dist")


@bp.get("/openapi.json")
def openapi_json():
    response = jsonify(document(current_app.config))
    response.headers["Access-Control-Allow-Origin"] = "*"  # a description, no data: any tool may read it
    return response


@bp.get("/docs")
def docs():
    return render_template("api/docs.html")


@bp.get("/docs/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(assets_dir(), name, max_age=3600)
