from prometheus_client.parser import text_string_to_metric_families

from stickyguard.addons.balancing import metrics

STATE = {
    "kind": "cookie",
    "backends": [{"name": "app1", "up": True, "draining": False, "weight": 2, "sessions": 3, "requests": 7,
                  "in_flight": 1, "moved_in": 1, "moved_out": 0, "transitions": {"down": 1, "up": 1}},
                 {"name": "app2", "up": False, "draining": True, "weight": 1, "sessions": 0, "requests": 2,
                  "in_flight": 0, "moved_in": 0, "moved_out": 1, "transitions": {"down": 1}}],
    "counts": {"new": 3, "sticky": 6},
    "rejected": {"forged": 2},
    "retries": {"empty response": 20},
    "not_retried": {"POST may have been received": 1},
    "clients_waiting": 3,
    "clients_closed": {"too many clients waiting": 2},
}


def test_the_exposition_parses_and_says_what_the_state_holds():
    text = metrics.exposition(metrics.registry(lambda: STATE)).decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("stickyguard_requests_total", (("backend", "app1"),))] == 7
    assert samples[("stickyguard_decisions_total", (("kind", "cookie"), ("reason", "sticky")))] == 6
    assert samples[("stickyguard_rejected_tokens_total", (("why", "forged"),))] == 2
    assert samples[("stickyguard_backend_up", (("backend", "app2"),))] == 0
    assert samples[("stickyguard_backend_draining", (("backend", "app2"),))] == 1
    assert samples[("stickyguard_in_flight", (("backend", "app1"),))] == 1
    assert samples[("stickyguard_health_transitions_total", (("backend", "app1"), ("to", "up")))] == 1
    assert samples[("stickyguard_moves_total", (("backend", "app2"), ("direction", "out")))] == 1
    assert samples[("stickyguard_retries_total", (("why", "empty response"),))] == 20
    assert samples[("stickyguard_gave_up_total", (("why", "POST may have been received"),))] == 1
    assert samples[("stickyguard_clients_waiting", ())] == 3
    assert samples[("stickyguard_clients_closed_total", (("why", "too many clients waiting"),))] == 2
