"""The real-time zone (6.2.3 c, 6.3.1.1): streaming ingestion of real-time feeds, log-based
change capture into zipper tables, current-state views fused from the T-1 batch and the events
after it, reconciliation against the batch, and real-time applications (risk warnings, tags)."""
