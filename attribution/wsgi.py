import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from attribution.gc_warmup import frozen_after_warmup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attribution.settings")

application = frozen_after_warmup(get_wsgi_application())

if settings.RUN_BACKGROUND_JOBS:
    from attribution import background

    background.start()
