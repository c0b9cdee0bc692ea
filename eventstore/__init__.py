"""A MongoDB persistence module for the `eventsourcing` library.

Select it the library's way: `PERSISTENCE_MODULE=parley.eventstore` and
`MONGODB_URI=...`. The library looks for exactly one infrastructure factory class
in this module, so import no other one here.
"""

from parley.eventstore.factory import MongoFactory

__all__ = ["MongoFactory"]
