"""cnaps: explains image-restoration results and performs them.

This package holds the agent and its interfaces. It stays light to import: nothing here pulls in torch,
chromadb or langchain until a command needs them.
"""

__version__ = "0.1.0"
