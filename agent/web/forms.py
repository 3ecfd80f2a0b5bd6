"""The ask form as OpenAPI documents it (multipart: card, card_name, question, image, scale, session_id)."""

from __future__ import annotations

from tools.restoration.zoo import MAX_SCALE

ASK_FORM = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "properties": {
                "card": {"description": "The card: a .txt file or its text. Default: the session's card, else "
                                        "the bundled MIMO-UNet card.",
                         "oneOf": [{"type": "string", "format": "binary"}, {"type": "string"}]},
                "card_name": {"type": "string", "description": "A bundled card's name (see GET /api/cards)."},
                "question": {"type": "string", "description": "The question; default: the card's."},
                "image": {"type": "string", "format": "binary", "description": "An image to restore."},
                "scale": {"type": "integer", "minimum": 1, "maximum": MAX_SCALE,
                          "description": "Enlargement before restoring; default: the question's, else 1."},
                "session_id": {"type": "string", "description": "Continue this chat (follow-up question)."},
            },
        }}},
    }
}
