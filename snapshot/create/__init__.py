"""Build side: ``snap create``.

``command`` (the parent: validate, run the child, write the image atomically)
-> ``trace`` (the child: the workloads under the recorder, ``misses`` folded in)
-> ``build`` (the driver) over ``plan`` (what is served and why not) and
``codegen`` (one module, one object), for a ``cpu`` target; ``progress`` shows it.
"""
