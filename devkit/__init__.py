"""Development tools, not part of the serving image: the embedded Kafka-compatible broker
(Tansu) and ``make demo``."""
