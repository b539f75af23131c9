"""Demo data for local demonstrations (``flask --app wsgi lms seed-demo``).

``data`` holds the facts (people, colleges, the model programme of DESIGN section 1);
``seed`` writes them through the domain services, idempotently.
"""
