"""The task a question asks for (deblurring, super-resolution, both, other), its scale, cues and needs: the public
face of `agent.reading.task` (rules and prototypes), `agent.reading.scale` and `agent.reading.needs`, for the CLI's
`cnaps classify` and the agent's classify tool."""

from agent.reading.needs import ABOUT_MODEL, MAX_CHARS, normalise
from agent.reading.scale import find_scale, read_scale
from agent.reading.task import classify, classify_turns, is_follow_up_text

__all__ = ["ABOUT_MODEL", "MAX_CHARS", "classify", "classify_turns", "find_scale", "is_follow_up_text", "normalise",
           "read_scale"]
