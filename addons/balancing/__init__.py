"""The plain balancing logic behind the balancer addon: affinity kinds, backends, sealing, ring, store, health.

No module here imports mitmproxy, so each is tested and benchmarked on its own.
"""
