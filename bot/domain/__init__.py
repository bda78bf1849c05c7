"""Types and rules of the domain: instances, tasks, windows, filters, usual durations, access.

Nothing here does I/O or knows of settings, Slack or HTTP: the service, the DMS client, the
renderer and the grammar all stand on it (a test in tests/test_layers.py keeps it so)."""
