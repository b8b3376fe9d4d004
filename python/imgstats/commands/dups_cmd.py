"""Being written."""


def add_parsers(sub):
    pass
