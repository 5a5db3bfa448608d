"""The settings of the server `make bench` measures: the product's own, plus the bare endpoints that
the product's are compared against (benchmarks/urls.py). Nothing of this reaches the product."""

from attribution.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
