"""Inspection: ``snap info``, ``snap check``, ``snap doctor``.

An image is code: inspecting one never executes, imports or unpickles anything
of it. ``read`` (the untrusted file), ``info`` (what it holds), ``check`` (would
it serve here: the runtime's own verdict), ``verify`` (``--deep``: two ELF
readers agree), ``doctor`` (is the start-up hook installed).
"""
