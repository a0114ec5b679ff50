"""`stickyguard probe URL`: ask a live site how it keeps sessions sticky, how evenly it spreads them, and
whether a client can steer itself to a backend of its choice.

`client` sends one request; `sessions` drives fresh and returning sessions within bounds; `identity` works
out what tells the site's backends apart; `analysis` turns the visits into the mechanism, the spread and
the stickiness figures. The probe sends traffic only to the URL the user names.
"""
