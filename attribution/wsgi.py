import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from core import checkpoints
from core.gc_warmup import frozen_after_warmup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attribution.settings")

application = frozen_after_warmup(get_wsgi_application())
checkpoints.start()  # SQLite only: its log is copied back by a thread, never by a request

if settings.RUN_BACKGROUND_JOBS:
    from attribution import background

    background.start()
