"""The one exception type of the linker: every failure, at link or load time."""


class LinkError(Exception):
    """A link or load failure; the message names the object, section, symbol and relocation."""
