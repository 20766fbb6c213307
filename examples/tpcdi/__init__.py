"""The TPC-DI workload on the lakehouse framework (issue #20): source contracts in conf/,
the warehouse in warehouse.py, the audit in audit.py; run it with benchmarks/tpcdi.py."""
