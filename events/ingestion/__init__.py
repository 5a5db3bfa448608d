"""Ingestion: the SDK and network endpoints, their contract, and the service that turns a request into bus messages."""
