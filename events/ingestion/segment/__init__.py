"""Segment's tracking spec as a second way in: every SDK that speaks it (analytics.js,
analytics-swift, analytics-kotlin, the server libraries, RudderStack's) is an UnMoGrowP SDK.

spec.py     the messages, as msgspec structs of the fields we read
mapping.py  a message as our own Event (names, device ids, campaign, money; docs/segment.md)
decoder.py  a request body as decoded events for events.ingestion.services.ingest_events
openapi.py  the /v1/ endpoints in the OpenAPI document, generated from spec.py
"""
