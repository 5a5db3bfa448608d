"""The dashboard's DRF APIs: the seed's (``seed``) and the analytics reports (``reports``)."""
