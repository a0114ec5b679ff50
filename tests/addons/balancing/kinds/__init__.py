"""Tests of the affinity kinds; `pool` and `SECRET` are what they share."""

import random

from stickyguard.addons.balancing import backends

SECRET = b"k" * 32


def pool(*names):
    specs = [backends.parse_backend_spec(f"{n}=http://{n}.internal:8080,route=r{n}") for n in names]
    return backends.Pool(specs, rng=random.Random(3))
