from django.db.models import QuerySet

from charges.models import Channel


def channel_list_enabled() -> QuerySet[Channel]:
    return Channel.objects.filter(enabled=True)
