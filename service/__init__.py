"""drainwatch: log drains in, incidents and outage reports out."""

__version__ = "0.1.0"
