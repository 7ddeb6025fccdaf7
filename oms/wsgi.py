"""WSGI entry point (gunicorn oms.wsgi, with gunicorn.conf.py; runserver too).

`/api/` runs through a lean middleware stack, every other path through
settings.MIDDLEWARE in full (oms/handlers.py).
"""

import os

from django.core.wsgi import get_wsgi_application

from oms.handlers import ApiHandler, Dispatcher

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")

_full = get_wsgi_application()  # sets Django up first
application = Dispatcher(full=_full, api=ApiHandler())
