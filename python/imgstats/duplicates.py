"""Being written."""


def dedupe(*args, **kwargs):
    raise NotImplementedError


def duplicates(*args, **kwargs):
    raise NotImplementedError


def near_pairs(*args, **kwargs):
    raise NotImplementedError
