"""Notifications: incident events into a transactional outbox, delivered to a webhook and Slack."""
