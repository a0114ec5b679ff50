"""stickyguard's audit half: read captures, judge affinity cookies by rules kept as data, report."""

__version__ = "0.1.0"
