"""Example projects run on the framework."""
