"""Entry point for WSGI servers: `gunicorn cowin_kit.wsgi:app`."""

from cowin_kit.app import create_app
from cowin_kit.serving import settle

app = settle(create_app())
