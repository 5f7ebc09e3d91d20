# Whether `data` is one minimally encoded msgpack value of the kinds an entry may hold
# (trustnet/_canonical.c). str contents are not checked as UTF-8: call it only on bytes that
# msgpack unpacked without error (as `trustnet.log.entry.decode_fields` does).
def scan(data: bytes, /) -> bool: ...
