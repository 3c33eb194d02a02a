"""Distributed algorithms written as message handlers (see :mod:`.core`): COHDA, averaging
consensus and diffusion run without a coordinator on any carrier of :mod:`..carrier`."""
