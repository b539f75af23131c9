"""The public verification page a certificate's QR code points to (server-rendered HTML)."""

from flask import Blueprint

pages = Blueprint("verify_pages", __name__, template_folder="templates")
