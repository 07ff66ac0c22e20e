from django import template

from core.money import money as money_str

register = template.Library()


@register.filter
def money(value):
    """An amount as the API writes it (core.money.money): "49.9", never 49.900000."""
    return money_str(value) if value is not None else ""


@register.filter
def can(portal, permission: str) -> bool:
    return portal is not None and portal.can(permission)
