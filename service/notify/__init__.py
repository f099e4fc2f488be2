"""Notifications: incident events for the generic webhook (`outbox`, `deliver`), and one message
per outage for Slack and email (`outage_outbox`, `paging`), each through a transactional outbox."""
