"""Pulling logs from a platform's API into the spool, for services that cannot send them."""
