"""The closed loop over the store: import, hand out, answer, decide, train, score, audit, export.

Each step is a function over a :class:`~labelloop.loop.context.LoopContext` and the state
holders it needs; :class:`~labelloop.loop.project.Project` holds them and is the library's
front. It runs without a server or a CLI; both are thin faces over it.
"""
