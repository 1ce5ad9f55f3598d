"""The REST API of the review surfaces (docs/api.md): interviews, exports, question sets, WebSocket tickets."""
