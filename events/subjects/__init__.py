"""Data subjects of an app: export and erasure of everything stored about one of them (by user id or
device id), and the opt-out list that ingestion and the consumer honour.

identity.py   a subject as stored: the app, the kind of identifier, its pseudonym
blocklist.py  per process, the app's opted-out and just-erased subjects (the hot path's check)
stores.py     each store's part: ClickHouse (events.personal_data.TABLES) and the outbox
services.py   opt-outs, requests, export, erasure, the job that runs pending erasures
apis.py       /api/admin/apps/{app_id}/subjects/*, /opt-outs, /subject-requests (admin only)
"""
