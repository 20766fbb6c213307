"""Published national standards the framework checks values against (pure Python, no Spark)."""
