"""Admission (6.2.4.1): the six checks a delivery must pass and the decision they add up to,
registration of source contracts, and the certification lifecycle of source systems."""
