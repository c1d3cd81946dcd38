"""Pure-torch models: encoders, fusion, heads and the multimodal model. No Lightning here."""
