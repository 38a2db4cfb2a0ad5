def test_kafka_python_uses_the_c_crc32c():
    """Without the crc32c module kafka-python checksums every record batch in pure Python
    (16x slower reads); it is a serving dependency."""
    from kafka.record import util

    assert util.crc32c_c is not None and util._crc32c is util.crc32c_c
