"""The bodies of the ``dro`` commands (parsing and error reporting are in :mod:`..cli`)."""
