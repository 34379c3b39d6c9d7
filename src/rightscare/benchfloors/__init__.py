"""The floors of the intake benchmark (``bench/intake.py``): installed only with ``RIGHTSCARE_BENCH_FLOORS=1``.

Two API operations under ``/api/bench-floors/``, behind the same token authentication as
``/api/v1/``, that measure what the framework and the database cost on their own:

* ``GET ping``: a trivial authenticated JSON answer (the framework floor);
* ``POST calls``: validates the body of ``POST /api/v1/calls`` with the same schema and
  inserts four rows in one transaction (the framework-and-database floor).

Never switched on in production: the setting exists for the benchmark's server only, and
without it neither the app, its table nor its routes exist.
"""
