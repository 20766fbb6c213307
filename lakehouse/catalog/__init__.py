"""The business metadata catalog: registered tables and columns, searchable by business meaning."""
