"""A local stand-in for WhatsApp Web and its server, for the browser tests."""

from testkit.fake_whatsapp.server import ME, VERSION, FakeWhatsApp, free_port
from testkit.fake_whatsapp.sink import RecordingSink

__all__ = ["ME", "VERSION", "FakeWhatsApp", "RecordingSink", "free_port"]
