"""The large-scale simulator (DESIGN 10): thousands of protocols on the in-memory network with in-memory replicas, on a virtual clock."""
