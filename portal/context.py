def portal(request) -> dict:
    """`portal` in every template: the signed-in user's merchant, mode and role (or None)."""
    return {"portal": getattr(request, "portal", None)}
