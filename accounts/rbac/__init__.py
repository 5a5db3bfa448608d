"""Role-based and per-app access control: roles, the seed's permissions, per-app grants and the one
access function. Every authorization decision is made here, from the database."""
