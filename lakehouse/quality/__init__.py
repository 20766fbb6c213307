"""Data quality: rules in our own format, derived and declared, measured with Great Expectations
on the six dimensions, with results, scorecards, quarantine and reports kept in the lakehouse."""
