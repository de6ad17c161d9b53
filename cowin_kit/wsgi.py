"""Entry point for WSGI servers: `gunicorn cowin_kit.wsgi:app`."""

from cowin_kit import create_app

app = create_app()
