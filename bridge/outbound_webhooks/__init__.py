"""Outbound webhooks: every event of the log, signed, to the integrations that subscribe."""
