"""The indexed store of the documents a card provides (chromadb), and retrieval from it."""
