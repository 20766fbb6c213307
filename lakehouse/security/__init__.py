"""Data security by level (4.2): how values of each security level are shown and protected."""
