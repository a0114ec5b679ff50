"""`stickyguard demo`: shop backends, the balancer with the recorder, shoppers, a failover, the audit."""
