"""The balancer's Prometheus metrics, read from its state when scraped (nothing is counted twice on the
request path): requests and decisions by kind and reason, sessions, requests in flight, health and its
transitions, moves and rejected tokens per backend, retries and the failed requests not retried.
prometheus_client writes the exposition format.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Collector:
    def __init__(self, snapshot: Callable[[], dict[str, Any]]):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        state = self.snapshot()
        kind = state["kind"]
        decisions = CounterMetricFamily("stickyguard_decisions", "Routing decisions by affinity kind and reason.",
                                        labels=["kind", "reason"])
        for reason, n in sorted(state["counts"].items()):
            decisions.add_metric([kind, reason], n)
        rejected = CounterMetricFamily("stickyguard_rejected_tokens", "Affinity tokens rejected, by why "
                                       "(tampered, forged, expired, unknown route ...).", labels=["why"])
        for why, n in sorted(state["rejected"].items()):
            rejected.add_metric([why], n)
        retries = CounterMetricFamily("stickyguard_retries", "Requests sent to another backend after a try "
                                      "failed before any response byte, by how it failed.", labels=["why"])
        for why, n in sorted(state["retries"].items()):
            retries.add_metric([why], n)
        gave_up = CounterMetricFamily("stickyguard_gave_up", "Requests a backend failed that the balancer "
                                      "answered with its own 502 or 503, by why it tried no further.",
                                      labels=["why"])
        for why, n in sorted(state["not_retried"].items()):
            gave_up.add_metric([why], n)
        if state.get("table_entries") is not None:
            yield GaugeMetricFamily("stickyguard_session_table_entries", "Entries in the in-memory session table "
                                    "(expired ones are purged every second).", value=state["table_entries"])
        waiting = GaugeMetricFamily("stickyguard_clients_waiting", "Client connections between two requests.")
        waiting.add_metric([], state["clients_waiting"])
        closed = CounterMetricFamily("stickyguard_clients_closed", "Client connections the balancer closed, by "
                                     "why (no request within the client timeout, too many waiting).",
                                     labels=["why"])
        for why, n in sorted(state["clients_closed"].items()):
            closed.add_metric([why], n)
        per_backend: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "requests": CounterMetricFamily("stickyguard_requests", "Requests sent to each backend.",
                                            labels=["backend"]),
            "sessions": GaugeMetricFamily("stickyguard_sessions", "Sessions placed on each backend.",
                                          labels=["backend"]),
            "in_flight": GaugeMetricFamily("stickyguard_in_flight", "Requests each backend is answering now.",
                                           labels=["backend"]),
            "up": GaugeMetricFamily("stickyguard_backend_up", "1 when the backend is up.", labels=["backend"]),
            "draining": GaugeMetricFamily("stickyguard_backend_draining", "1 while the backend takes no new "
                                          "sessions.", labels=["backend"]),
            "weight": GaugeMetricFamily("stickyguard_backend_weight", "The backend's weight.", labels=["backend"]),
        }
        moves = CounterMetricFamily("stickyguard_moves", "Sessions moved onto or off each backend.",
                                    labels=["backend", "direction"])
        transitions = CounterMetricFamily("stickyguard_health_transitions", "Health state changes of each "
                                          "backend, by the state it went to.", labels=["backend", "to"])
        for b in state["backends"]:
            for key, family in per_backend.items():
                family.add_metric([b["name"]], float(b[key]))
            moves.add_metric([b["name"], "in"], b["moved_in"])
            moves.add_metric([b["name"], "out"], b["moved_out"])
            for to in ("up", "down"):
                transitions.add_metric([b["name"], to], b["transitions"].get(to, 0))
        yield decisions
        yield rejected
        yield retries
        yield gave_up
        yield waiting
        yield closed
        yield from per_backend.values()
        yield moves
        yield transitions


def registry(snapshot: Callable[[], dict[str, Any]]) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one, which a second balancer would share)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector(snapshot))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)
