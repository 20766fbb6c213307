"""Data services (6.2.4.3, 6.3.1.3, 6.4.1): contracts, lifecycle, API keys, serving copies and the
HTTP server that answers published services without starting a Spark job."""
