"""The closed loop over the store: import, train, score, route, label, export, simulate.

Runs without a server or a CLI; both are thin faces over :class:`~labelloop.loop.project.Project`.
"""
