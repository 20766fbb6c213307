"""The data lifecycle beyond loading (4.2.2.2, 4.2.2.5): backups and restores, retention and
destruction, legal holds."""
