"""The contract shared by training, export and serving: text preparation with head+tail
truncation, the padded-feed builder, the model manifest and its verification, the corpus
readers. Standard library, numpy and ``tokenizers`` only: no torch, no Kafka."""
