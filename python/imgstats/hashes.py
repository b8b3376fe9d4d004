"""Being written."""


def ahash(*args, **kwargs):
    raise NotImplementedError


def dhash(*args, **kwargs):
    raise NotImplementedError


def hash_hex(*args, **kwargs):
    raise NotImplementedError


def phash(*args, **kwargs):
    raise NotImplementedError
