"""The parts of the soak harness (`python -m parley.tools.soak`): traffic, the fake
Meta (webhook poster and Graph API), process supervision, faults, monitors,
reconciliation and the report."""
