import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attribution.settings")

application = get_wsgi_application()

if settings.RUN_BACKGROUND_JOBS:
    from attribution import background

    background.start()
