"""The data lifecycle beyond loading (4.2.2.2): backups and restores."""
