"""Model backends behind one async chat interface, with a shared cache and a cost ledger."""

from chiron.llm.spec import ModelSpec
from chiron.llm.types import ChatRequest, Completion, Message, Sampling

__all__ = ["ChatRequest", "Completion", "Message", "ModelSpec", "Sampling"]
