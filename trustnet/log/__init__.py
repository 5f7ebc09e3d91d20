"""The log layer (DESIGN 3): entry format v1, signatures, chain rules and fork proofs (`entry`), key events (`keys`: pre-rotation, rotation, revocation) and bundles of entries (`bundle`)."""
