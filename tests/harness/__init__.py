"""What tests share: waiting on conditions, node directories, the demo story, HTTP and
gossip clients, the in-memory cluster, the belief worlds, the offline scenario runs.

Test modules import from here (and from tests/conftest.py's fixtures), never from each
other (issue 13 item 7).
"""
