"""QuickDumpNow release pipeline: hooks, operators, triggers and the plain-Python release logic.

Airflow puts ``plugins/`` on ``sys.path``, so this package imports as ``qdn`` in tasks, in the
DAG processor and in tests alike.
"""
