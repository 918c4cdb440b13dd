"""The API v2 endpoint: a lean ASGI path in front of the same services as every door."""
